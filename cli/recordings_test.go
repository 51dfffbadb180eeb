package cli

import (
	"strings"
	"testing"
)

func TestRecordingsS3URL(t *testing.T) {
	s, err := parseS3URL("https://AKIA123:s3cr%2Fet@s3.eu-west-2.example.org/puente-recordings?region=eu-west-2")
	if err != nil {
		t.Fatal(err)
	}
	if s.Endpoint != "s3.eu-west-2.example.org" || s.Bucket != "puente-recordings" || s.AccessKey != "AKIA123" ||
		s.SecretKey != "s3cr/et" || s.Region != "eu-west-2" || !s.TLS {
		t.Fatalf("parsed %+v", s)
	}
	s, err = parseS3URL("http://minio:minio123@127.0.0.1:9000/rec")
	if err != nil || s.TLS || s.Endpoint != "127.0.0.1:9000" || s.Bucket != "rec" {
		t.Fatalf("plain http: %+v %v", s, err)
	}
	for _, bad := range []string{"ftp://a:b@h/b", "https://h/b", "https://a@h/b", "https://a:b@h/", "https://a:b@h/b/c",
		"https://a:b@/b", "https://a:topsecret@h/b?tls=maybe"} {
		_, err := parseS3URL(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("the error repeats the secret: %v", err)
		}
	}
}
