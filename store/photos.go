package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/puente-org/puente/domain"
)

// SpeakerPhoto is a stored photo, as served.
type SpeakerPhoto struct {
	ID        int64
	Key       string // unguessable, in the photo's URL (domain.PhotoURL)
	JPEG      []byte
	Digest    string // hex SHA-256 of JPEG (the ETag)
	CreatedAt time.Time
}

// SetSpeakerPhoto gives the speaker at position (0-based) of an occurrence a new photo
// (an already processed JPEG), or removes it (jpeg nil). The photo it replaces is deleted
// in the same transaction. It returns the new photo's id (0 when removed).
func (s *Store) SetSpeakerPhoto(ctx context.Context, occID int64, position int, jpeg []byte, width, height int) (int64, error) {
	var photoID int64
	key := domain.NewPhotoKey()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var speakerID int64
		err := tx.QueryRow(ctx, `SELECT id FROM speakers WHERE occurrence_id = $1 AND position = $2 FOR UPDATE`, occID, position).Scan(&speakerID)
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.Invalid("photo", "err.photo.no_speaker", "N", position+1)
		}
		if err != nil {
			return fmt.Errorf("find speaker: %w", err)
		}
		var newID *int64
		if jpeg != nil {
			sum := sha256.Sum256(jpeg)
			if err := tx.QueryRow(ctx, `INSERT INTO speaker_photos (occurrence_id, jpeg, width, height, digest, created_at, key)
				VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, occID, jpeg, width, height, hex.EncodeToString(sum[:]), s.now(), key).Scan(&photoID); err != nil {
				return fmt.Errorf("save photo: %w", err)
			}
			newID = &photoID
		}
		if _, err := tx.Exec(ctx, `UPDATE speakers SET photo_id = $2 WHERE id = $1`, speakerID, newID); err != nil {
			return fmt.Errorf("set photo: %w", err)
		}
		return dropUnusedPhotos(ctx, tx, occID)
	})
	return photoID, err
}

// SpeakerPhotoByKey reads a photo to serve, by the key in its URL.
func (s *Store) SpeakerPhotoByKey(ctx context.Context, key string) (SpeakerPhoto, error) {
	p := SpeakerPhoto{Key: key}
	err := s.pool.QueryRow(ctx, `SELECT id, jpeg, digest, created_at FROM speaker_photos WHERE key = $1`, key).Scan(&p.ID, &p.JPEG, &p.Digest, &p.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, notFound("photo")
	}
	if err != nil {
		return p, fmt.Errorf("read photo: %w", err)
	}
	return p, nil
}
