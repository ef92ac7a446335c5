package app_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/iam-userinfo/userinfo/internal/app"
)

func TestLoadConfig(t *testing.T) {
	valid := map[string]string{
		"TABLE_NAME":    "users",
		"AUTH_JWKS_URL": "https://iam.example.com/jwks.json",
		"AUTH_ISSUER":   "https://iam.example.com",
		"AUTH_AUDIENCE": "iam-userinfo",
	}
	with := func(k, v string) func(string) string {
		return func(name string) string {
			if name == k {
				return v
			}
			return valid[name]
		}
	}
	cfg, err := app.LoadConfig(with("LOG_LEVEL", "debug"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TableName != "users" || cfg.JWKSURL != valid["AUTH_JWKS_URL"] || cfg.Issuer != valid["AUTH_ISSUER"] || cfg.Audience != valid["AUTH_AUDIENCE"] || cfg.LogLevel != slog.LevelDebug {
		t.Errorf("cfg = %+v", cfg)
	}
	if cfg.AuditRetention != app.DefaultAuditRetentionDays*24*time.Hour {
		t.Errorf("default audit retention = %v", cfg.AuditRetention)
	}
	if cfg, _ := app.LoadConfig(with("AUDIT_RETENTION_DAYS", "30")); cfg.AuditRetention != 30*24*time.Hour {
		t.Errorf("AUDIT_RETENTION_DAYS=30 gave %v", cfg.AuditRetention)
	}
	// make run's local issuer, as sam local invoke and make invoke reach it.
	if _, err := app.LoadConfig(with("AUTH_JWKS_URL", "http://127.0.0.1:3000/.well-known/jwks.json")); err != nil {
		t.Errorf("a loopback http JWKS URL: %v", err)
	}

	tests := []struct{ name, variable, value string }{
		{"ErrNoTable", "TABLE_NAME", ""},
		{"ErrNoJWKS", "AUTH_JWKS_URL", ""},
		{"ErrPlainHTTPJWKS", "AUTH_JWKS_URL", "http://iam.example.com/jwks.json"},
		{"ErrPlainHTTPJWKSOnAllInterfaces", "AUTH_JWKS_URL", "http://0.0.0.0:3000/.well-known/jwks.json"},
		{"ErrNoIssuer", "AUTH_ISSUER", ""},
		{"ErrBlankAudience", "AUTH_AUDIENCE", "  "},
		{"ErrLogLevel", "LOG_LEVEL", "loud"},
		{"ErrRetentionNotNumber", "AUDIT_RETENTION_DAYS", "a year"},
		{"ErrRetentionZero", "AUDIT_RETENTION_DAYS", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := app.LoadConfig(with(tt.variable, tt.value))
			if err == nil || !strings.Contains(err.Error(), tt.variable) {
				t.Errorf("err = %v, want one naming %s", err, tt.variable)
			}
		})
	}
}
