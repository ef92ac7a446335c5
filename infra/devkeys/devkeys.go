// Package devkeys keeps a local token-signing key for development and tests:
// an ECDSA P-256 key in a PEM file and the matching public JWKS, so that the
// API can run with no real IAM issuer: AUTH_JWKS_URL is the file
// (file://...) or the JWKS served over http on loopback, as make run does
// (Handler). It is never used in production, where tokens come from the IAM
// issuer.
package devkeys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Defaults for tokens signed by a Key, and for a verifier configured to
// accept them.
const (
	DefaultIssuer   = "https://iam.local.test"
	DefaultAudience = "iam-userinfo"
)

// DirEnv names the environment variable the local tools (make run, token,
// events, invoke) read the key folder from; DefaultDir is the folder when it
// is unset. DefaultDir is relative to the working directory, which for the
// make targets is the module root; the folder is git-ignored.
const (
	DirEnv     = "KEYS_DIR"
	DefaultDir = ".local/keys"
)

// DefaultLifetime is how long a token from Sign lives when Claims.ExpiresAt
// is zero.
const DefaultLifetime = time.Hour

const (
	keyFile  = "signing-key.pem"
	jwksFile = "jwks.json"
)

// JWKSPath is the URL path Handler is served at by make run: where issuers
// conventionally publish their keys.
const JWKSPath = "/.well-known/jwks.json"

// Key is a development signing key and the JWKS file that publishes it.
type Key struct {
	priv     *ecdsa.PrivateKey
	kid      string
	jwksPath string
	jwks     []byte // the file's content
}

// LoadOrCreate returns the key kept in dir, creating dir (0700), the key
// (signing-key.pem, PKCS#8, 0600) and its public JWKS (jwks.json) when they
// do not exist. jwks.json is rewritten when it does not match the key, so a
// deleted or stale one heals itself. Processes racing to create the key all
// end up with the same one: the first to link its file in wins and the
// others load it. It returns an error when dir cannot be created or written,
// or when signing-key.pem exists but is not a PKCS#8 P-256 key; such a file
// is left as it is, since it may be someone's key.
func LoadOrCreate(dir string) (*Key, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("devkeys: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("devkeys: %w", err)
	}
	keyPath := filepath.Join(abs, keyFile)
	priv, err := loadKey(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		priv, err = createKey(keyPath)
	}
	if err != nil {
		return nil, err
	}

	kid, err := thumbprint(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	k := &Key{priv: priv, kid: kid, jwksPath: filepath.Join(abs, jwksFile)}
	if err := k.writeJWKS(); err != nil {
		return nil, err
	}
	return k, nil
}

// KID returns the key's id: its RFC 7638 thumbprint, so that the same key
// always gets the same id and a new key never reuses an old one.
func (k *Key) KID() string { return k.kid }

// JWKSPath returns the absolute path of the public JWKS file.
func (k *Key) JWKSPath() string { return k.jwksPath }

// JWKSURL returns the file:// URL of the public JWKS file, a value for
// AUTH_JWKS_URL.
func (k *Key) JWKSURL() string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(k.jwksPath)}).String()
}

// Handler returns an http.Handler that answers GET and HEAD with the public
// JWKS, as an issuer's JWKS endpoint does, and 405 otherwise.
func (k *Key) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(k.jwks)
	})
}

// Claims are the claims of a development token. An empty Subject or
// DomainID is left out of the token, which lets tests build tokens the
// verifier must reject.
type Claims struct {
	Subject  string
	DomainID string
	// Issuer and Audience default to DefaultIssuer and DefaultAudience.
	Issuer   string
	Audience string
	// IssuedAt defaults to now, ExpiresAt to IssuedAt + DefaultLifetime.
	IssuedAt  time.Time
	ExpiresAt time.Time
	// NotBefore is left out when zero.
	NotBefore time.Time
}

// tokenClaims is the JWT payload, with the same claim names as the IAM
// issuer's tokens.
type tokenClaims struct {
	jwt.RegisteredClaims
	DomainID string `json:"domain_id,omitempty"`
}

// Sign returns an ES256 JWT with c's claims and the key's kid in its
// header. It returns an error only if signing fails, which for a key that
// LoadOrCreate accepted means the system's random source failed.
func (k *Key) Sign(c Claims) (string, error) {
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = c.IssuedAt.Add(DefaultLifetime)
	}
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    c.Issuer,
			Subject:   c.Subject,
			Audience:  jwt.ClaimStrings{c.Audience},
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
		},
		DomainID: c.DomainID,
	}
	if !c.NotBefore.IsZero() {
		claims.NotBefore = jwt.NewNumericDate(c.NotBefore)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header[jwkset.HeaderKID] = k.kid
	s, err := tok.SignedString(k.priv)
	if err != nil {
		return "", fmt.Errorf("devkeys: sign: %w", err)
	}
	return s, nil
}

// loadKey reads a PKCS#8 P-256 key; it returns an error wrapping
// fs.ErrNotExist when there is no file.
func loadKey(path string) (*ecdsa.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devkeys: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("devkeys: %s holds no PKCS#8 PEM block; delete it to generate a new key", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("devkeys: %s: %w; delete it to generate a new key", path, err)
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("devkeys: %s is not an ECDSA P-256 key (ES256 needs one); delete it to generate a new key", path)
	}
	return priv, nil
}

// createKey generates a key and links it into place only if no other
// process did first; if one did, it returns that process's key instead.
func createKey(path string) (*ecdsa.PrivateKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devkeys: generate: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("devkeys: %w", err)
	}
	tmp, err := writeTemp(filepath.Dir(path), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	// Link, unlike rename, fails when the target exists: the file appears
	// complete or not at all, and a key another process already handed out
	// (and signed tokens with) is never replaced under it.
	err = os.Link(tmp, path)
	if errors.Is(err, fs.ErrExist) {
		return loadKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("devkeys: %w", err)
	}
	return priv, nil
}

// writeJWKS writes the public JWKS unless the file already says exactly
// that. The write is a rename of a complete temporary file, so a verifier
// starting at the same moment reads the old file or the new one, never half.
func (k *Key) writeJWKS() error {
	j, err := publicJWK(&k.priv.PublicKey, k.kid)
	if err != nil {
		return err
	}
	// Only the public half: jwkset leaves "d" out unless asked for it.
	raw, err := json.MarshalIndent(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{j}}, "", "  ")
	if err != nil {
		return fmt.Errorf("devkeys: %w", err)
	}
	raw = append(raw, '\n')
	k.jwks = raw
	if old, err := os.ReadFile(k.jwksPath); err == nil && bytes.Equal(old, raw) {
		return nil
	}
	// Public data, so readable by other users, as a JWKS endpoint would be.
	tmp, err := writeTemp(filepath.Dir(k.jwksPath), raw, 0o644)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, k.jwksPath); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("devkeys: %w", err)
	}
	return nil
}

// writeTemp writes data to a new file in dir, flushed to disk, and returns
// its name. The file is in dir so that link and rename stay on one
// filesystem.
func writeTemp(dir string, data []byte, perm fs.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, ".devkeys-*.tmp")
	if err != nil {
		return "", fmt.Errorf("devkeys: %w", err)
	}
	name := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("devkeys: %w", err)
	}
	return name, nil
}

// publicJWK returns pub as a signing JWK for ES256 with the given kid.
func publicJWK(pub *ecdsa.PublicKey, kid string) (jwkset.JWKMarshal, error) {
	j, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: kid, ALG: jwkset.AlgES256, USE: jwkset.UseSig,
	}})
	if err != nil {
		return jwkset.JWKMarshal{}, fmt.Errorf("devkeys: %w", err)
	}
	return j.Marshal(), nil
}

// thumbprint returns the RFC 7638 thumbprint of pub: SHA-256 over the
// required members in lexicographic order, with no whitespace.
func thumbprint(pub *ecdsa.PublicKey) (string, error) {
	j, err := publicJWK(pub, "")
	if err != nil {
		return "", err
	}
	// Struct fields marshal in declaration order; x and y are base64url,
	// which JSON never escapes.
	canonical, err := json.Marshal(struct {
		CRV string `json:"crv"`
		KTY string `json:"kty"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}{string(j.CRV), string(j.KTY), j.X, j.Y})
	if err != nil {
		return "", fmt.Errorf("devkeys: %w", err)
	}
	sum := sha256.Sum256(canonical)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
