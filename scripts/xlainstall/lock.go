package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/pkg/errors"
)

// lockEntry is one pinned package of a pip-compile --generate-hashes lock.
type lockEntry struct {
	// Name is the package name, normalised as in PEP 503 (lower case, runs of "-", "_", "." as "-").
	Name string
	// Version is the exact version pinned with "==".
	Version string
	// Hashes are the accepted sha256 digests (lower-case hex) of its distribution files.
	Hashes []string
}

// nameSeparators are the runs of characters PEP 503 folds into one "-".
var nameSeparators = regexp.MustCompile(`[-_.]+`)

// sha256Hex matches a sha256 digest written in hex.
var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// normalizeName returns a package name in the PEP 503 normal form.
func normalizeName(name string) string {
	return nameSeparators.ReplaceAllString(strings.ToLower(name), "-")
}

// parseLock reads a lock written by pip-compile --generate-hashes: every requirement must be pinned
// with "==" and carry at least one --hash=sha256:..., names must not repeat, and nothing else than
// requirements, hashes and comments may appear. The result is keyed by the normalised name.
func parseLock(path string) (map[string]lockEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrap(err, "reading the lock")
	}
	defer func() { _ = f.Close() }()
	entries := map[string]lockEntry{}
	var logical strings.Builder
	lineNo, startLine := 0, 0
	flush := func() error {
		text := strings.TrimSpace(logical.String())
		logical.Reset()
		if text == "" {
			return nil
		}
		entry, err := parseLockRequirement(text)
		if err != nil {
			return errors.Wrapf(err, "%s:%d", path, startLine)
		}
		if _, dup := entries[entry.Name]; dup {
			return errors.Errorf("%s:%d: %s is pinned twice", path, startLine, entry.Name)
		}
		entries[entry.Name] = entry
		return nil
	}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		lineNo++
		line := scanner.Text()
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		if strings.TrimSpace(line) == "" && logical.Len() == 0 {
			continue
		}
		if logical.Len() == 0 {
			startLine = lineNo
		}
		trimmed := strings.TrimRight(line, " \t")
		continued := strings.HasSuffix(trimmed, `\`)
		logical.WriteString(strings.TrimSuffix(trimmed, `\`))
		logical.WriteByte(' ')
		if !continued {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, errors.Wrapf(err, "reading the lock %s", path)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, errors.Errorf("the lock %s pins no package", path)
	}
	return entries, nil
}

// parseLockRequirement parses one logical line of a lock: "name==version --hash=sha256:HEX ...".
func parseLockRequirement(text string) (lockEntry, error) {
	fields := strings.Fields(text)
	name, version, ok := strings.Cut(fields[0], "==")
	if !ok || name == "" || version == "" || strings.ContainsAny(version, "<>=!~;,*[") ||
		strings.ContainsAny(name, "<>=!~;,[") {
		return lockEntry{}, errors.Errorf("requirement %q is not pinned as name==version", fields[0])
	}
	entry := lockEntry{Name: normalizeName(name), Version: version}
	for _, field := range fields[1:] {
		digest, ok := strings.CutPrefix(field, "--hash=sha256:")
		if !ok {
			return lockEntry{}, errors.Errorf("%s: unexpected %q (want only --hash=sha256:... after the pin)", fields[0], field)
		}
		if !sha256Hex.MatchString(digest) {
			return lockEntry{}, errors.Errorf("%s: %q is not a sha256 digest (64 lower-case hex digits)", fields[0], digest)
		}
		entry.Hashes = append(entry.Hashes, digest)
	}
	if len(entry.Hashes) == 0 {
		return lockEntry{}, errors.Errorf("%s has no --hash=sha256:...: every pin of the lock needs one", fields[0])
	}
	return entry, nil
}

// fileSHA256 returns the sha256 digest of the file at path, in lower-case hex.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", errors.Wrap(err, "hashing")
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", errors.Wrapf(err, "hashing %s", path)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// verifySHA256 checks that the file at path has one of the digests want; the error names the file,
// the digest it has and the one(s) it should have.
func verifySHA256(path string, want ...string) error {
	if len(want) == 0 {
		return errors.Errorf("refusing %s: no sha256 is pinned for it", path)
	}
	got, err := fileSHA256(path)
	if err != nil {
		return err
	}
	for _, w := range want {
		if got == w {
			return nil
		}
	}
	if len(want) == 1 {
		return errors.Errorf("checksum mismatch for %s: got sha256 %s, want %s", path, got, want[0])
	}
	return errors.Errorf("checksum mismatch for %s: got sha256 %s, want one of %s", path, got, strings.Join(want, ", "))
}

// wheelNameVersion returns the normalised package name and the version of a wheel from its file name
// ({name}-{version}(-{build})?-{python}-{abi}-{platform}.whl).
func wheelNameVersion(file string) (name, version string, err error) {
	base, ok := strings.CutSuffix(file, ".whl")
	parts := strings.Split(base, "-")
	if !ok || (len(parts) != 5 && len(parts) != 6) || parts[0] == "" || parts[1] == "" {
		return "", "", errors.Errorf("%q is not a wheel file name ({name}-{version}-{python}-{abi}-{platform}.whl)", file)
	}
	return normalizeName(parts[0]), parts[1], nil
}
