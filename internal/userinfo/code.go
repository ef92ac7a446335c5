package userinfo

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"math/big"
)

// CodeDigits is the length of a verification code.
const CodeDigits = 6

// NewCode returns CodeDigits decimal digits from crypto/rand, so no code
// can be predicted from another.
func NewCode() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(1_000_000)) // never fails: since Go 1.24 crypto/rand crashes the program instead
	return fmt.Sprintf("%0*d", CodeDigits, n)
}

// NewSalt returns 16 random bytes, hex-encoded, to hash one code with.
func NewSalt() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails, as above
	return hex.EncodeToString(b[:])
}

// HashCode returns the form a code is stored in: the hex SHA-256 of salt
// and code.
func HashCode(salt, code string) string {
	sum := sha256.Sum256([]byte(salt + ":" + code))
	return hex.EncodeToString(sum[:])
}

// CodeMatches reports whether code hashes, with salt, to hash. The
// comparison is constant-time, so timing does not tell how close a guess was.
func CodeMatches(code, salt, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashCode(salt, code)), []byte(hash)) == 1
}
