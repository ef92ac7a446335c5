// Package localenv is the one place for the settings of the local tools.
// make run (infra/cmd/devserver) writes what it chose (ports, table,
// issuer, audience, JWKS URL, keys folder) to File; make seed, token,
// events, invoke and outbox (their commands) read it, so nothing needs
// repeating.
// A variable set in the environment still wins over the file, and the file
// over the defaults.
package localenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iam-userinfo/userinfo/infra/ddblocal"
	"github.com/iam-userinfo/userinfo/infra/devkeys"
)

// File is the settings file, relative to the working directory (the
// repository's root for the make targets); .local/ is git-ignored.
const File = ".local/settings.env"

// The settings, by the environment variable that sets each.
const (
	DDBPort  = "DDB_PORT"      // DynamoDB Local's port on 127.0.0.1
	Port     = "PORT"          // the API's port on 127.0.0.1
	Table    = "TABLE_NAME"    // the table
	Issuer   = "AUTH_ISSUER"   // the tokens' iss
	Audience = "AUTH_AUDIENCE" // the tokens' aud
	JWKSURL  = "AUTH_JWKS_URL" // where the function finds the keys
	KeysDir  = devkeys.DirEnv  // the local signing key's folder
	SESPort  = "SES_PORT"      // the local SES's port on 127.0.0.1
)

// Names lists the settings in the order File holds them.
var Names = []string{DDBPort, Port, Table, Issuer, Audience, JWKSURL, KeysDir, SESPort}

// Where make run's notifier puts the SMS it sends and the messages it gave
// up on, one JSON line each (the local stand-ins for SNS and the SQS
// dead-letter queue); emails go to the local SES.
const (
	SMSFile        = ".local/outbox/sms.jsonl"
	DeadLetterFile = ".local/outbox/dead-letters.jsonl"
)

// DefaultTable is the table when TABLE_NAME is set nowhere: make run, make
// seed and make invoke then find the same data.
const DefaultTable = "iam-userinfo-local"

// Settings are the local tools' settings: the environment over File over
// the defaults.
type Settings struct {
	getenv func(string) string
	file   map[string]string
}

// FromEnvironment returns the settings of the environment and the defaults,
// without File: what make run, which writes File, decides from.
func FromEnvironment(getenv func(string) string) *Settings {
	return &Settings{getenv: getenv, file: map[string]string{}}
}

// Load reads File from the working directory; a missing file is no error.
// It returns an error naming the line when the file holds something other
// than NAME=value lines, comments and blank lines.
func Load(getenv func(string) string) (*Settings, error) {
	s := FromEnvironment(getenv)
	raw, err := os.ReadFile(File)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s:%d: want NAME=value; delete the file and run make run again", File, n)
		}
		s.file[k] = v
	}
	return s, nil
}

// Get returns the setting name: from the environment, else File, else its
// default ("" for a name without one).
func (s *Settings) Get(name string) string {
	if v := s.getenv(name); v != "" {
		return v
	}
	if v, ok := s.file[name]; ok {
		return v
	}
	switch name {
	case DDBPort:
		return "8000"
	case Port:
		return "3000"
	case Table:
		return DefaultTable
	case Issuer:
		return devkeys.DefaultIssuer
	case Audience:
		return devkeys.DefaultAudience
	case JWKSURL:
		return LocalJWKSURL(s.Get(Port))
	case KeysDir:
		return devkeys.DefaultDir
	case SESPort:
		return "8005"
	}
	return ""
}

// from says where the setting name came from, for messages.
func (s *Settings) from(name string) string {
	if s.getenv(name) != "" {
		return name + " set in the environment"
	}
	if _, ok := s.file[name]; ok {
		return name + " from " + File
	}
	return "the default " + name
}

// Values returns every setting by name, for Write.
func (s *Settings) Values() map[string]string {
	m := make(map[string]string, len(Names))
	for _, n := range Names {
		m[n] = s.Get(n)
	}
	return m
}

// PortNumber returns the setting name as a TCP port number, or an error
// naming it and where it came from.
func (s *Settings) PortNumber(name string) (int, error) {
	v := s.Get(name)
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%s is %q, not a port number", s.from(name), v)
	}
	return n, nil
}

// SESEndpoint returns the local SES's URL.
func (s *Settings) SESEndpoint() string {
	return "http://127.0.0.1:" + s.Get(SESPort)
}

// LocalJWKSURL returns the URL at which make run serves the local JWKS when
// it listens on port.
func LocalJWKSURL(port string) string {
	return "http://127.0.0.1:" + port + devkeys.JWKSPath
}

// Key returns the local signing key from the KeysDir setting, creating it
// when there is none (devkeys.LoadOrCreate).
func (s *Settings) Key() (*devkeys.Key, error) {
	return devkeys.LoadOrCreate(s.Get(KeysDir))
}

// DynamoDB returns the endpoint of the DynamoDB Local the settings name,
// once it has answered and shown the table. Its error is one line that
// says what was not found where, which setting said so, and what to do:
// when nothing answers, or the table is missing (another program on the
// port, or a make run with another TABLE_NAME).
func (s *Settings) DynamoDB(ctx context.Context) (string, error) {
	n, err := s.PortNumber(DDBPort)
	if err != nil {
		return "", err
	}
	port := strconv.Itoa(n)
	endpoint := "http://127.0.0.1:" + port
	if !ddblocal.Answers(ctx, endpoint) {
		return "", fmt.Errorf("no DynamoDB Local answers on 127.0.0.1:%s (%s): start make run in another terminal first", port, s.from(DDBPort))
	}
	table := s.Get(Table)
	_, err = ddblocal.Client(endpoint).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var missing *types.ResourceNotFoundException
	if errors.As(err, &missing) {
		return "", fmt.Errorf("the DynamoDB Local on 127.0.0.1:%s (%s) has no table %s (%s): restart make run, which creates it", port, s.from(DDBPort), table, s.from(Table))
	}
	if err != nil {
		return "", fmt.Errorf("DynamoDB Local on 127.0.0.1:%s: %w", port, err)
	}
	return endpoint, nil
}

// Write writes the settings to File, creating .local/ (0700: the folder
// also holds the signing key). values holds every name of Names.
func Write(values map[string]string) error {
	var b strings.Builder
	b.WriteString("# Written by make run: the settings that make seed, token, events, invoke\n" +
		"# and outbox read. A variable set in the environment wins over this file.\n")
	for _, n := range Names {
		v, ok := values[n]
		if !ok || strings.ContainsAny(v, "\n\r") {
			return fmt.Errorf("localenv: no single-line value for %s", n)
		}
		fmt.Fprintf(&b, "%s=%s\n", n, v)
	}
	if err := os.MkdirAll(filepath.Dir(File), 0o700); err != nil {
		return err
	}
	tmp := File + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	// A reader sees the old file or the new one, never half.
	return os.Rename(tmp, File)
}
