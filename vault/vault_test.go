package vault

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenCreatesKeysOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	v1, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{CodeKeyFile, StorageKeyFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 || st.Size() != 32 {
			t.Errorf("%s: mode %v size %d, want 0600 and 32 bytes", name, st.Mode().Perm(), st.Size())
		}
	}
	sealed, err := v1.Seal([]byte("carte d'identité"), []byte("document:abc"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("identité")) {
		t.Error("sealed data contains the clear text")
	}
	v2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v1.CodeKey(), v2.CodeKey()) {
		t.Error("code key changed across opens")
	}
	plain, err := v2.Open(sealed, []byte("document:abc"))
	if err != nil || string(plain) != "carte d'identité" {
		t.Errorf("Open = %q, %v", plain, err)
	}
	if _, err := v2.Open(sealed, []byte("document:other")); err != ErrOpen {
		t.Errorf("opened with the wrong associated data: %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := v2.Open(sealed, []byte("document:abc")); err != ErrOpen {
		t.Errorf("opened tampered data: %v", err)
	}
	if _, err := v2.Open([]byte("short"), nil); err != ErrOpen {
		t.Errorf("opened short data: %v", err)
	}
}

func TestOpenRefusesBadKeyFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, CodeKeyFile), []byte("short"), 0o600)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "32 bytes") {
		t.Errorf("truncated key: err = %v", err)
	}
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, CodeKeyFile), bytes.Repeat([]byte{1}, 32), 0o644)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Errorf("world-readable key: err = %v", err)
	}
}

func TestKeyPerPurpose(t *testing.T) {
	v, err := New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(bytes.Repeat([]byte{3}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	a, b := v.Key(PurposeMessageID), v.Key(PurposeAudit)
	if len(a) != 32 || bytes.Equal(a, b) {
		t.Fatalf("purposes share a key or it is short: %x %x", a, b)
	}
	if !bytes.Equal(a, v.Key(PurposeMessageID)) {
		t.Fatal("a derived key changes between calls")
	}
	if bytes.Equal(a, w.Key(PurposeMessageID)) || bytes.Equal(a, v.CodeKey()) {
		t.Fatal("a derived key does not depend on the code key, or is the code key")
	}
}

// TestOpenRefusesKeysOthersCanReach: a key file its group (or anyone)
// can read or write is refused, for either key; the owner's own bits
// beyond 0600 do not matter.
func TestOpenRefusesKeysOthersCanReach(t *testing.T) {
	for _, name := range []string{CodeKeyFile, StorageKeyFile} {
		for _, mode := range []os.FileMode{0o640, 0o620, 0o610, 0o604, 0o602, 0o660, 0o644} {
			dir := t.TempDir()
			if _, err := Open(dir); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, name)
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "0600") {
				t.Errorf("%s mode %04o: err = %v, want it refused", name, mode, err)
			}
		}
		dir := t.TempDir()
		if _, err := Open(dir); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, name), 0o400)
		if _, err := Open(dir); err != nil {
			t.Errorf("%s mode 0400: %v", name, err)
		}
	}
}

// TestReseal: bytes sealed under the storage key come out sealed under a
// box's key, in their own storage, and open there (only there, only with
// their associated data); a check that refuses them, or sealed bytes
// that do not open, stop it.
func TestReseal(t *testing.T) {
	v, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	box, err := NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	clear := bytes.Repeat([]byte("carte d'identité "), 1000)
	ad := []byte("message:abc")
	sealed, err := v.Seal(clear, ad)
	if err != nil {
		t.Fatal(err)
	}
	var seen []byte
	out, err := v.Reseal(box, sealed, ad, func(c []byte) error { seen = bytes.Clone(c); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(seen, clear) {
		t.Error("check did not see the clear bytes")
	}
	if &out[0] != &sealed[0] || len(out) != len(sealed) {
		t.Error("resealed into new storage")
	}
	got, err := box.Open(out, ad)
	if err != nil || !bytes.Equal(got, clear) {
		t.Fatalf("box opens the resealed bytes: %v, same: %v", err, bytes.Equal(got, clear))
	}
	if _, err := v.Open(out, ad); err == nil {
		t.Error("the storage key opens bytes resealed under the box's key")
	}
	if _, err := box.Open(out, []byte("message:other")); err == nil {
		t.Error("resealed bytes open with other associated data")
	}
	if _, err := v.Reseal(box, out, ad, func([]byte) error { return nil }); err != ErrOpen {
		t.Errorf("resealing bytes the storage key does not open: %v, want ErrOpen", err)
	}
	sealed, _ = v.Seal(clear, ad)
	refused := errors.New("refused")
	if _, err := v.Reseal(box, sealed, ad, func([]byte) error { return refused }); err != refused {
		t.Errorf("check refusing: %v", err)
	}
}
