package secrets

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, c := range []struct{ in, want, secret string }{
		{"nats://s3cretTok@127.0.0.1:4222", "nats://[REDACTED]@127.0.0.1:4222", "s3cretTok"},
		{"nats://alice:pa55word@h:4222", "nats://alice:[REDACTED]@h:4222", "pa55word"},
		{"tls://bob:p%40ss@h", "tls://bob:[REDACTED]@h", "p@ss"},
		{"http://mon:m0nPass@h:8222/", "http://mon:[REDACTED]@h:8222/", "m0nPass"},
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222", ""},
		{"127.0.0.1:4222", "127.0.0.1:4222", ""},
		// Not a URL url.Parse takes: the pattern still masks it.
		{"nats://tok%zz@h:1", "nats://[REDACTED]@h:1", ""},
	} {
		if got := URL(c.in); got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
		if c.secret != "" {
			if got := Scrub("error: " + c.secret + " was refused"); strings.Contains(got, c.secret) {
				t.Errorf("after URL(%q), Scrub left the secret: %q", c.in, got)
			}
		}
	}
}

func TestRegisterURLsIn(t *testing.T) {
	RegisterURLsIn("--server=nats://a:flagPw1@h:1,nats://flagTok2@h:2")
	for _, s := range []string{"flagPw1", "flagTok2"} {
		if got := Scrub("x " + s + " y"); got != "x "+Mask+" y" {
			t.Errorf("%s not registered: %q", s, got)
		}
	}
}

func TestScrubLongestFirst(t *testing.T) {
	Register("abcXYZ", "abcXYZ123")
	if got := Scrub("[abcXYZ123]"); got != "["+Mask+"]" {
		t.Errorf("got %q", got)
	}
	// The escaped forms a library may print.
	Register("p@ss/w rd")
	for _, form := range []string{"p@ss/w rd", "p%40ss%2Fw+rd", "p%40ss%2Fw%20rd"} {
		if got := Scrub(form); got != Mask {
			t.Errorf("Scrub(%q) = %q", form, got)
		}
	}
}

// A secret split across writes, and a URL never registered, are masked;
// text without secrets passes as written, progress lines (\r) included.
func TestWriter(t *testing.T) {
	Register("wr1terSecret")
	var out bytes.Buffer
	w := NewWriter(&out)
	for _, part := range []string{"conn ", "wr1ter", "Secret failed\n", "progress 1\r", "progress 2\r", "url nats://neverSeen@h:1 down\n", "tail"} {
		if _, err := w.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	if got := out.String(); strings.Contains(got, "tail") {
		t.Errorf("a line without its end was written: %q", got)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "conn " + Mask + " failed\nprogress 1\rprogress 2\rurl nats://" + Mask + "@h:1 down\ntail"
	if got := out.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestRegisterSeedFile(t *testing.T) {
	seed := "SUAKYRHVIOREXV7EUZTBHUHL7NUMHPMAS7QMDU3GTIUWEI5LDNOXD43IZY"
	creds := "-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.x\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n" + seed + "\n------END USER NKEY SEED------\n"
	path := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(path, []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	RegisterSeedFile(path)
	if got := Scrub("seed " + seed); got != "seed "+Mask {
		t.Errorf("got %q", got)
	}
	RegisterSeedFile(filepath.Join(t.TempDir(), "missing")) // no panic, nothing registered
}
