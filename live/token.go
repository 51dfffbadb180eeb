package live

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Roles in a room.
const (
	RoleHost     = "host"
	RoleSpeaker  = "speaker"
	RoleAttendee = "attendee"
)

// TokenTTL is how long a join token can open a websocket.
const TokenTTL = 60 * time.Second

// ErrInvalidToken means a join token was not made by this server, has expired, or was
// altered.
var ErrInvalidToken = errors.New("invalid join token")

// Admission is what a join token grants: one person, one occurrence, one role.
type Admission struct {
	OccurrenceID int64     `json:"o"`
	PersonID     int64     `json:"p"`
	Role         string    `json:"r"`
	Expires      time.Time `json:"e"`
	Nonce        string    `json:"n"` // makes the token single-use
}

// Tokens signs and checks join tokens with one key.
type Tokens struct{ key []byte }

// NewTokens uses a key of at least 32 random bytes (the server's link key).
func NewTokens(key []byte) *Tokens {
	m := hmac.New(sha256.New, key) // a key of its own, derived: link tokens never verify as join tokens
	m.Write([]byte("puente live join token v1"))
	return &Tokens{key: m.Sum(nil)}
}

// Issue makes a token for a person's right to a room, valid for TokenTTL from now.
func (t *Tokens) Issue(occID, personID int64, role string, now time.Time) (string, Admission) {
	var n [16]byte
	_, _ = rand.Read(n[:])
	a := Admission{OccurrenceID: occID, PersonID: personID, Role: role, Expires: now.Add(TokenTTL).UTC().Truncate(time.Second), Nonce: hex.EncodeToString(n[:])}
	body, _ := json.Marshal(a) // plain struct: cannot fail
	payload := base64.RawURLEncoding.EncodeToString(body)
	return "v1." + payload + "." + t.sign(payload), a
}

func (t *Tokens) sign(payload string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Check verifies a token's signature and expiry and returns what it grants.
func (t *Tokens) Check(token string, now time.Time) (Admission, error) {
	rest, ok := strings.CutPrefix(token, "v1.")
	if !ok {
		return Admission{}, ErrInvalidToken
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(t.sign(payload))) {
		return Admission{}, ErrInvalidToken
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return Admission{}, ErrInvalidToken
	}
	var a Admission
	if err := json.Unmarshal(body, &a); err != nil || a.Nonce == "" || a.OccurrenceID <= 0 || a.PersonID <= 0 {
		return Admission{}, ErrInvalidToken
	}
	switch a.Role {
	case RoleHost, RoleSpeaker, RoleAttendee:
	default:
		return Admission{}, ErrInvalidToken
	}
	if !now.Before(a.Expires) {
		return Admission{}, ErrInvalidToken
	}
	return a, nil
}

// A resume token lets a participant come back to its room within the grace period:
// "r1.<occurrence id>.<32 random bytes, base64url>". Only its SHA-256 is stored; each
// welcome gives a new one and the previous one stops working.
func newResumeToken(occID int64) (token string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	token = "r1." + strconv.FormatInt(occID, 10) + "." + base64.RawURLEncoding.EncodeToString(b[:])
	return token, resumeHash(token)
}

func resumeHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// parseResumeToken reads the room a resume token is for; ok is false for anything that is
// not a well-formed token.
func parseResumeToken(token string) (occID int64, hash []byte, ok bool) {
	rest, found := strings.CutPrefix(token, "r1.")
	if !found {
		return 0, nil, false
	}
	occ, secret, found := strings.Cut(rest, ".")
	if !found {
		return 0, nil, false
	}
	id, err := strconv.ParseInt(occ, 10, 64)
	if err != nil || id <= 0 {
		return 0, nil, false
	}
	if b, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(b) != 32 {
		return 0, nil, false
	}
	return id, resumeHash(token), true
}
