package modfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// SigMagic ends the image of a module signed by the kernel's sign-file.
const SigMagic = "~Module signature appended~\n"

// sigInfoSize is the size of struct module_signature: algo, hash, id_type,
// signer_len, key_id_len, three bytes of padding and a big-endian sig_len.
const sigInfoSize = 12

// Signature is the signature appended to a module, decoded the way kmod
// 30 (built with OpenSSL) decodes it for modinfo.
type Signature struct {
	// Algo is the public-key algorithm from the trailer ("RSA", "DSA") of
	// an X509 or PGP signature; kmod does not print it. sign-file leaves
	// it zero for PKCS#7, so it is "" there.
	Algo string
	// IDType is the key identifier type: "PKCS#7" for every module signed
	// by kernels since 4.3, "X509" or "PGP" for older ones.
	IDType string
	// Signer is the common name of the signing certificate's issuer
	// (PKCS#7) or the signer's name from the trailer.
	Signer string
	// KeyID is the serial number of the signing certificate (PKCS#7) or
	// the key identifier from the trailer.
	KeyID []byte
	// HashAlgo names the digest ("sha256").
	HashAlgo string
	// Data is the signature proper.
	Data []byte
}

var (
	pkeyAlgo   = []string{"DSA", "RSA"}
	pkeyHash   = []string{"md4", "md5", "sha1", "rmd160", "sha256", "sha384", "sha512", "sha224", "sm3"}
	pkeyIDType = []string{"PGP", "X509", "PKCS#7"}
)

const idPKCS7 = 2

// ErrBadSignature is wrapped by the errors of ParseSignature for a
// trailer that carries the magic but cannot be decoded.
var ErrBadSignature = errors.New("bad module signature")

// sigNeed reads the trailer at the end of tail and returns how many bytes
// from the end of the image the whole signature occupies; 0 when tail
// does not end with the magic.
func sigNeed(tail []byte) (int64, error) {
	if len(tail) < len(SigMagic) || string(tail[len(tail)-len(SigMagic):]) != SigMagic {
		return 0, nil
	}
	rest := tail[:len(tail)-len(SigMagic)]
	if len(rest) < sigInfoSize {
		return 0, fmt.Errorf("%w: trailer of %d bytes, need %d", ErrBadSignature, len(rest), sigInfoSize)
	}
	info := rest[len(rest)-sigInfoSize:]
	n := int64(info[3]) + int64(info[4]) + int64(binary.BigEndian.Uint32(info[8:]))
	return n + sigInfoSize + int64(len(SigMagic)), nil
}

// ParseSignature decodes the signature at the end of a module image (the
// whole image, or at least its last bytes holding the signature). It
// returns nil and no error for an unsigned image.
func ParseSignature(img []byte) (*Signature, error) {
	if len(img) < len(SigMagic) || string(img[len(img)-len(SigMagic):]) != SigMagic {
		return nil, nil
	}
	size := len(img) - len(SigMagic)
	if size < sigInfoSize {
		return nil, fmt.Errorf("%w: no room for the signature information block", ErrBadSignature)
	}
	size -= sigInfoSize
	info := img[size : size+sigInfoSize]
	algo, hash, idType := int(info[0]), int(info[1]), int(info[2])
	signerLen, keyIDLen := int(info[3]), int(info[4])
	sigLen := int64(binary.BigEndian.Uint32(info[8:]))
	switch {
	case algo >= len(pkeyAlgo):
		return nil, fmt.Errorf("%w: unknown public-key algorithm %d", ErrBadSignature, algo)
	case hash >= len(pkeyHash):
		return nil, fmt.Errorf("%w: unknown hash algorithm %d", ErrBadSignature, hash)
	case idType >= len(pkeyIDType):
		return nil, fmt.Errorf("%w: unknown key identifier type %d", ErrBadSignature, idType)
	case sigLen == 0:
		return nil, fmt.Errorf("%w: empty signature", ErrBadSignature)
	case int64(size) < int64(signerLen)+int64(keyIDLen)+sigLen:
		return nil, fmt.Errorf("%w: signer, key id and signature need %d bytes, image has %d before the trailer",
			ErrBadSignature, int64(signerLen)+int64(keyIDLen)+sigLen, size)
	}
	s := &Signature{IDType: pkeyIDType[idType]}
	sigStart := size - int(sigLen)
	if idType == idPKCS7 {
		if err := s.parsePKCS7(img[sigStart:size]); err != nil {
			return nil, fmt.Errorf("%w: PKCS#7: %v", ErrBadSignature, err)
		}
		return s, nil
	}
	s.Algo = pkeyAlgo[algo]
	s.Data = img[sigStart:size]
	keyStart := sigStart - keyIDLen
	s.KeyID = img[keyStart:sigStart]
	s.Signer = string(img[keyStart-signerLen : keyStart])
	s.HashAlgo = pkeyHash[hash]
	return s, nil
}

// Signature returns the module's signature, nil when it is unsigned, or
// an error naming the file when the trailer is malformed.
func (m *Module) Signature() (*Signature, error) {
	if m.sigDone {
		return m.sig, m.sigErr
	}
	m.sigDone = true
	m.sig, m.sigErr = m.readSignature()
	if m.sigErr != nil {
		m.sigErr = fmt.Errorf("%s: %w", m.Path, m.sigErr)
	}
	return m.sig, m.sigErr
}

func (m *Module) readSignature() (*Signature, error) {
	n := int64(len(SigMagic) + sigInfoSize)
	if m.Size < int64(len(SigMagic)) {
		return nil, nil
	}
	if n > m.Size {
		n = m.Size
	}
	tail, err := m.read(uint64(m.Size-n), uint64(n))
	if err != nil {
		return nil, err
	}
	need, err := sigNeed(tail)
	if err != nil || need == 0 {
		return nil, err
	}
	if need > m.Size {
		need = m.Size
	}
	tail, err = m.read(uint64(m.Size-need), uint64(need))
	if err != nil {
		return nil, err
	}
	s, err := ParseSignature(tail)
	if s != nil {
		// Own the bytes: Close may recycle the image.
		s.KeyID, s.Data = bytes.Clone(s.KeyID), bytes.Clone(s.Data)
	}
	return s, err
}

// KmodInfo returns what libkmod's kmod_module_get_info lists for the
// module: the .modinfo entries, then for a signed module sig_id, signer,
// sig_key, sig_hashalgo and signature, the binary ones in kmod's hex form
// (see FormatHex). A malformed signature is left out, as kmod does.
func (m *Module) KmodInfo() []Info {
	out := m.info
	if s, err := m.Signature(); err == nil && s != nil {
		out = append(out[:len(out):len(out)], s.KmodInfo()...)
	}
	return out
}

// KmodInfo returns the signature entries kmod's modinfo prints.
func (s *Signature) KmodInfo() []Info {
	return []Info{
		{"sig_id", s.IDType},
		{"signer", s.Signer},
		{"sig_key", FormatHex(s.KeyID)},
		{"sig_hashalgo", s.HashAlgo},
		{"signature", FormatHex(s.Data)},
	}
}

// FormatHex formats bytes as kmod does: upper-case hex pairs joined by
// ':', with "\n\t\t" after every 20 bytes but the last.
func FormatHex(b []byte) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	sb.Grow(len(b)*3 + len(b)/20*3)
	for i, c := range b {
		sb.WriteByte(hex[c>>4])
		sb.WriteByte(hex[c&15])
		if i < len(b)-1 {
			sb.WriteByte(':')
			if (i+1)%20 == 0 {
				sb.WriteString("\n\t\t")
			}
		}
	}
	return sb.String()
}

// ASN.1 object identifiers, DER-encoded contents.
var (
	oidSignedData = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}
	oidCommonName = []byte{0x55, 0x04, 0x03}
	hashOIDs      = map[string]string{
		"\x2a\x86\x48\x86\xf7\x0d\x02\x04":     "md4",
		"\x2a\x86\x48\x86\xf7\x0d\x02\x05":     "md5",
		"\x2b\x0e\x03\x02\x1a":                 "sha1",
		"\x2b\x24\x03\x02\x01":                 "rmd160",
		"\x60\x86\x48\x01\x65\x03\x04\x02\x01": "sha256",
		"\x60\x86\x48\x01\x65\x03\x04\x02\x02": "sha384",
		"\x60\x86\x48\x01\x65\x03\x04\x02\x03": "sha512",
		"\x60\x86\x48\x01\x65\x03\x04\x02\x04": "sha224",
		"\x2a\x81\x1c\xcf\x55\x01\x83\x11":     "sm3",
	}
)

// ASN.1 tags (class and constructed bits included).
const (
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagOID         = 0x06
	tagSequence    = 0x30
	tagSet         = 0x31
	tagContext0    = 0xa0
	tagContext1    = 0xa1
)

// parsePKCS7 takes what kmod takes from the PKCS#7 SignedData: the first
// SignerInfo's issuer common name, its serial number, digest algorithm
// and encrypted digest.
func (s *Signature) parsePKCS7(b []byte) error {
	ci, _, err := expect(b, tagSequence, "ContentInfo")
	if err != nil {
		return err
	}
	oid, rest, err := expect(ci, tagOID, "content type")
	if err != nil {
		return err
	}
	if !bytes.Equal(oid, oidSignedData) {
		return errors.New("content is not signedData")
	}
	explicit, _, err := expect(rest, tagContext0, "content")
	if err != nil {
		return err
	}
	sd, _, err := expect(explicit, tagSequence, "SignedData")
	if err != nil {
		return err
	}
	if _, sd, err = expect(sd, tagInteger, "SignedData version"); err != nil {
		return err
	}
	if _, sd, err = expect(sd, tagSet, "digestAlgorithms"); err != nil {
		return err
	}
	if _, sd, err = expect(sd, tagSequence, "contentInfo"); err != nil {
		return err
	}
	if t, _, _, e := next(sd); e == nil && t == tagContext0 {
		_, sd, _ = expect(sd, tagContext0, "certificates")
	}
	if t, _, _, e := next(sd); e == nil && t == tagContext1 {
		_, sd, _ = expect(sd, tagContext1, "crls")
	}
	sis, _, err := expect(sd, tagSet, "signerInfos")
	if err != nil {
		return err
	}
	si, _, err := expect(sis, tagSequence, "SignerInfo")
	if err != nil {
		return err
	}
	if _, si, err = expect(si, tagInteger, "SignerInfo version"); err != nil {
		return err
	}
	ias, si, err := expect(si, tagSequence, "issuerAndSerialNumber")
	if err != nil {
		return err
	}
	issuer, ias, err := expect(ias, tagSequence, "issuer")
	if err != nil {
		return err
	}
	serial, _, err := expect(ias, tagInteger, "serialNumber")
	if err != nil {
		return err
	}
	digAlg, si, err := expect(si, tagSequence, "digestAlgorithm")
	if err != nil {
		return err
	}
	digOID, _, err := expect(digAlg, tagOID, "digest algorithm")
	if err != nil {
		return err
	}
	if t, _, _, e := next(si); e == nil && t == tagContext0 {
		_, si, _ = expect(si, tagContext0, "authenticatedAttributes")
	}
	if _, si, err = expect(si, tagSequence, "digestEncryptionAlgorithm"); err != nil {
		return err
	}
	sig, _, err := expect(si, tagOctetString, "encryptedDigest")
	if err != nil {
		return err
	}
	signer, err := commonName(issuer)
	if err != nil {
		return err
	}
	s.Signer = signer
	s.KeyID = serialMagnitude(serial)
	s.HashAlgo = hashOIDs[string(digOID)]
	if s.HashAlgo == "" {
		s.HashAlgo = "unknown"
	}
	s.Data = sig
	return nil
}

// commonName returns the value of the issuer's commonName attribute as
// OpenSSL's X509_NAME_entry data (up to a NUL, as kmod uses strlen); when
// there is none, kmod ends up with the last attribute's value.
func commonName(name []byte) (string, error) {
	var last []byte
	found := false
	for rdns := name; len(rdns) > 0; {
		set, rest, err := expect(rdns, tagSet, "RelativeDistinguishedName")
		if err != nil {
			return "", err
		}
		rdns = rest
		for len(set) > 0 {
			atv, r, err := expect(set, tagSequence, "AttributeTypeAndValue")
			if err != nil {
				return "", err
			}
			set = r
			oid, val, err := expect(atv, tagOID, "attribute type")
			if err != nil {
				return "", err
			}
			_, _, content, err := next(val)
			if err != nil {
				return "", fmt.Errorf("attribute value: %w", err)
			}
			if !found {
				last = content
				if bytes.Equal(oid, oidCommonName) {
					found = true
				}
			}
		}
	}
	if i := bytes.IndexByte(last, 0); i >= 0 {
		last = last[:i]
	}
	return string(last), nil
}

// serialMagnitude returns the magnitude of a DER INTEGER, big-endian with
// no leading zeros, as OpenSSL's BN_bn2bin gives it.
func serialMagnitude(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	v := new(big.Int).SetBytes(b)
	if b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		v.Neg(v)
	}
	return v.Bytes()
}

// next reads one DER element: its tag byte, the contents, and what
// follows it. Multi-byte tags and indefinite lengths are refused.
func next(b []byte) (tag byte, rest, content []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errors.New("truncated element")
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, errors.New("multi-byte tag")
	}
	l := int(b[1])
	b = b[2:]
	if l&0x80 != 0 {
		n := l & 0x7f
		if n == 0 {
			return 0, nil, nil, errors.New("indefinite length")
		}
		if n > 4 || n > len(b) {
			return 0, nil, nil, errors.New("bad length")
		}
		l = 0
		for _, c := range b[:n] {
			l = l<<8 | int(c)
		}
		b = b[n:]
	}
	if l < 0 || l > len(b) {
		return 0, nil, nil, fmt.Errorf("length %d past the end (%d bytes left)", l, len(b))
	}
	return tag, b[l:], b[:l], nil
}

// expect reads an element that must carry tag and returns its contents
// and what follows.
func expect(b []byte, tag byte, what string) (content, rest []byte, err error) {
	t, rest, content, err := next(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if t != tag {
		return nil, nil, fmt.Errorf("%s: tag 0x%02x, want 0x%02x", what, t, tag)
	}
	return content, rest, nil
}
