package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// Secret prefixes make leaked tokens recognisable (e.g. by secret scanners).
const (
	PrefixSignIn   = "pse_" // one-time sign-in link
	PrefixSession  = "pss_" // browser session cookie
	PrefixAPIToken = "pat_" // personal API token
)

// NewSecret returns a fresh random secret (256 bits, URL-safe) with the given prefix, and the
// hash that is stored in its place. The secret itself is never stored.
func NewSecret(prefix string) (secret string, hash []byte) {
	b := make([]byte, 32)
	// crypto/rand.Read never fails on supported platforms (it panics rather than return
	// weak bytes), so there is no error to handle.
	_, _ = rand.Read(b)
	secret = prefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashSecret(secret)
}

// HashSecret is the one-way hash under which a secret is stored and looked up. A plain
// SHA-256 is right here: the secrets have 256 bits of entropy, so no salt or slow hash is
// needed.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// NewPhotoKey returns a fresh random key for a speaker photo's URL (128 bits, URL-safe,
// 22 characters).
func NewPhotoKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (see NewSecret)
	return base64.RawURLEncoding.EncodeToString(b)
}
