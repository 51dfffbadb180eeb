// Package links makes and checks personal signed links (a registration's join link and its
// one-click cancel link): unguessable without the server's key, bound to one purpose, and
// revocable by changing the registration's nonce.
package links

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// Purposes a link may serve; a link for one never works for another.
const (
	Join    = "join"
	Cancel  = "cancel"
	Confirm = "confirm" // a registration by email, confirmed by the owner of the address
)

// ErrInvalid means the link was not made by this server for this purpose (or was revoked).
var ErrInvalid = errors.New("invalid link")

// Signer signs with one key.
type Signer struct{ key []byte }

// New returns a signer for key (at least 32 random bytes).
func New(key []byte) *Signer { return &Signer{key: append([]byte(nil), key...)} }

func (s *Signer) mac(purpose string, id, nonce int64) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose + ":" + strconv.FormatInt(id, 10) + ":" + strconv.FormatInt(nonce, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:24])
}

// Token is "<id>.<mac>" for a registration id and its nonce.
func (s *Signer) Token(purpose string, id, nonce int64) string {
	return strconv.FormatInt(id, 10) + "." + s.mac(purpose, id, nonce)
}

// ID reads the registration id from a token without trusting it; Check must follow.
func ID(token string) (int64, error) {
	idPart, _, ok := strings.Cut(token, ".")
	if !ok {
		return 0, ErrInvalid
	}
	id, err := strconv.ParseInt(idPart, 10, 64)
	if err != nil || id <= 0 {
		return 0, ErrInvalid
	}
	return id, nil
}

// Check verifies a token against the registration's current nonce in constant time.
func (s *Signer) Check(purpose, token string, nonce int64) error {
	id, err := ID(token)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(token), []byte(s.Token(purpose, id, nonce))) {
		return ErrInvalid
	}
	return nil
}
