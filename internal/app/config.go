// Package app reads the API's configuration and builds the one
// http.Handler that the Lambda function and the local server serve.
package app

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/iam-userinfo/userinfo/internal/auth"
	"github.com/iam-userinfo/userinfo/internal/userinfo"
)

// Config is everything the API reads from its environment.
type Config struct {
	TableName string // TABLE_NAME
	JWKSURL   string // AUTH_JWKS_URL: https://… in production; locally http://127.0.0.1… or file://…
	Issuer    string // AUTH_ISSUER
	Audience  string // AUTH_AUDIENCE
	LogLevel  slog.Level
	// AuditRetention is AUDIT_RETENTION_DAYS, default 400: 13 months, so a
	// yearly review finds the whole previous year.
	AuditRetention time.Duration
	// Verify is VERIFY_CODE_TTL (1m to 24h), VERIFY_MAX_TRIES (1 to 20) and
	// VERIFY_SENDS_PER_HOUR (1 to 100), by default 15m, 5 and 5.
	Verify userinfo.VerifyPolicy
}

// DefaultAuditRetentionDays is the retention when AUDIT_RETENTION_DAYS is unset.
const DefaultAuditRetentionDays = 400

// Variables lists every environment variable the API reads itself, for a
// test to compare with the SAM template; the SDK reads its own.
var Variables = []string{"TABLE_NAME", "AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE", "LOG_LEVEL", "AUDIT_RETENTION_DAYS",
	"VERIFY_CODE_TTL", "VERIFY_MAX_TRIES", "VERIFY_SENDS_PER_HOUR"}

// LoadConfig reads the configuration through getenv. Its error names the
// first variable missing or invalid.
func LoadConfig(getenv func(string) string) (Config, error) {
	var c Config
	// The required variables, in order.
	for _, v := range []struct {
		name string
		to   *string
	}{
		{"TABLE_NAME", &c.TableName},
		{"AUTH_JWKS_URL", &c.JWKSURL},
		{"AUTH_ISSUER", &c.Issuer},
		{"AUTH_AUDIENCE", &c.Audience},
	} {
		if *v.to = getenv(v.name); strings.TrimSpace(*v.to) == "" {
			return Config{}, fmt.Errorf("%s is required", v.name)
		}
	}
	if err := auth.CheckJWKSURL(c.JWKSURL); err != nil {
		return Config{}, err
	}
	c.AuditRetention = DefaultAuditRetentionDays * 24 * time.Hour
	if v := getenv("AUDIT_RETENTION_DAYS"); v != "" {
		days, err := strconv.Atoi(v)
		if err != nil || days < 1 || days > 36500 {
			return Config{}, fmt.Errorf("AUDIT_RETENTION_DAYS must be a whole number of days from 1 to 36500, not %q", v)
		}
		c.AuditRetention = time.Duration(days) * 24 * time.Hour
	}
	c.Verify = userinfo.DefaultVerifyPolicy
	if v := getenv("VERIFY_CODE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Minute || d > 24*time.Hour {
			return Config{}, fmt.Errorf("VERIFY_CODE_TTL must be a duration from 1m to 24h, not %q", v)
		}
		c.Verify.CodeTTL = d
	}
	for _, n := range []struct {
		name   string
		to     *int
		lo, hi int
	}{
		{"VERIFY_MAX_TRIES", &c.Verify.MaxTries, 1, 20},
		{"VERIFY_SENDS_PER_HOUR", &c.Verify.SendsPerHour, 1, 100},
	} {
		v := getenv(n.name)
		if v == "" {
			continue
		}
		i, err := strconv.Atoi(v)
		if err != nil || i < n.lo || i > n.hi {
			return Config{}, fmt.Errorf("%s must be a whole number from %d to %d, not %q", n.name, n.lo, n.hi, v)
		}
		*n.to = i
	}
	if lvl := getenv("LOG_LEVEL"); lvl != "" {
		if err := c.LogLevel.UnmarshalText([]byte(lvl)); err != nil {
			return Config{}, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, not %q", lvl)
		}
	}
	return c, nil
}

// NewLogger returns the JSON logger every part of the API writes to.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
