package notify

import (
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"regexp"
)

// Config is the notifier function's configuration, from its environment.
type Config struct {
	TableName   string // TABLE_NAME
	EmailFrom   string // EMAIL_FROM: the address codes and notices come from
	SMSSenderID string // SMS_SENDER_ID: optional
	LogLevel    slog.Level
}

// Variables lists every environment variable the notifier reads itself,
// for a test to compare with the SAM template.
var Variables = []string{"TABLE_NAME", "EMAIL_FROM", "SMS_SENDER_ID", "LOG_LEVEL"}

// senderIDPattern is what SNS takes as a sender name.
var senderIDPattern = regexp.MustCompile(`^[A-Za-z0-9]{1,11}$`)

// LoadConfig reads the configuration through getenv. Its error names the
// first variable missing or invalid.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{TableName: getenv("TABLE_NAME"), EmailFrom: getenv("EMAIL_FROM"), SMSSenderID: getenv("SMS_SENDER_ID")}
	if c.TableName == "" {
		return Config{}, errors.New("TABLE_NAME is required")
	}
	if a, err := mail.ParseAddress(c.EmailFrom); err != nil || a.Address != c.EmailFrom {
		return Config{}, fmt.Errorf("EMAIL_FROM must be a plain email address, not %q", c.EmailFrom)
	}
	if c.SMSSenderID != "" && !senderIDPattern.MatchString(c.SMSSenderID) {
		return Config{}, fmt.Errorf("SMS_SENDER_ID must be 1 to 11 letters or digits, not %q", c.SMSSenderID)
	}
	if lvl := getenv("LOG_LEVEL"); lvl != "" {
		if err := c.LogLevel.UnmarshalText([]byte(lvl)); err != nil {
			return Config{}, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, not %q", lvl)
		}
	}
	return c, nil
}
