package signaling

import (
	"strings"
	"testing"
	"time"
)

func BenchmarkDecodeChat(b *testing.B) {
	msg := []byte(`{"type":"chat","ref":"r12","text":"Could you go back to the previous slide, please?"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, e := Decode(msg); e != nil {
			b.Fatal(e)
		}
	}
}

func BenchmarkDecodeOffer(b *testing.B) {
	sdp := strings.Repeat(`a=candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host\r\n`, 70) // ~4 KB
	msg := []byte(`{"type":"offer","ref":"o1","pc":"up","sdp":"` + sdp + `","tracks":{"a1b2":"camera","c3d4":"microphone"}}`)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, e := Decode(msg); e != nil {
			b.Fatal(e)
		}
	}
}

func BenchmarkEncodeChat(b *testing.B) {
	m := ChatMessageOut(ChatMessage{ID: 1234, Author: Author{ParticipantID: "p7", Name: "Ada Lovelace"}, Text: "Could you go back to the previous slide, please?", At: time.Now()})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}
