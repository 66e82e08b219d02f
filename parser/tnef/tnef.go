// Package tnef decodes the attachments and body of a Transport Neutral
// Encapsulation Format stream, the winmail.dat that Outlook and Exchange
// attach instead of MIME parts when they send "rich text" mail
// ([MS-OXTNEF]).
//
// No maintained Go module for TNEF was reachable, so this is a small
// decoder of its own. It reads the attribute records (§2.1.3.1), the
// attachment records and the MAPI property lists inside attAttachment and
// attMsgProps (§2.1.3.4). It is written for hostile input: every length is
// checked against what is left, nothing is allocated from a declared
// size, embedded messages are followed to a fixed depth, and a damaged
// stream yields what could be read plus warnings rather than nothing.
package tnef

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"

	"github.com/recoverybot/recoverybot/parser/internal/work"
)

// Signature starts every TNEF stream (little-endian 0x223E9F78).
const Signature = 0x223E9F78

// ErrNotTNEF is returned for data that does not start with Signature.
var ErrNotTNEF = errors.New("tnef: not a TNEF stream")

// MaxDepth is how many embedded messages deep Decode follows.
const MaxDepth = 4

// maxAttributes and maxProperties bound the records read, whatever the
// stream claims.
const (
	maxAttributes = 100000
	maxProperties = 10000
	maxValues     = 10000
)

// Attachment is a file carried in the stream.
type Attachment struct {
	// Title is the attAttachTitle attribute: often an 8.3 short name.
	Title string
	// LongName is PR_ATTACH_LONG_FILENAME (or PR_ATTACH_FILENAME).
	LongName string
	// MIMEType is PR_ATTACH_MIME_TAG, when the sender set one.
	MIMEType string
	// Method is PR_ATTACH_METHOD: 1 by value, 5 an embedded message,
	// 6 an OLE object; 0 when absent.
	Method int
	// Data is the file's bytes (attAttachData, or PR_ATTACH_DATA_BIN /
	// PR_ATTACH_DATA_OBJ without its interface identifier).
	Data []byte
	// Embedded is the decoded message when the attachment is an Outlook
	// message attached to this one (Method 5); its bytes stay in Data.
	Embedded *Message
}

// Name returns the best file name the stream gives: the long name, else
// the title.
func (a *Attachment) Name() string {
	if a.LongName != "" {
		return a.LongName
	}
	return a.Title
}

// Message is what a TNEF stream carries.
type Message struct {
	Subject      string
	MessageID    string // PR_INTERNET_MESSAGE_ID when present
	MessageClass string
	// Body is the plain text body (attBody or PR_BODY), HTML the
	// PR_BODY_HTML bytes (charset as the HTML declares it), HasRTF
	// whether a compressed RTF body (PR_RTF_COMPRESSED) is present; it is
	// not decompressed.
	Body        string
	HTML        []byte
	HasRTF      bool
	Attachments []*Attachment
	// Warnings lists damage found while decoding: bad checksums,
	// truncated records, unknown property types.
	Warnings []string
}

// Attribute identifiers (attribute ID low word, §2.1.3.1).
const (
	attSubject         = 0x8004
	attMessageID       = 0x8009
	attMessageClass    = 0x8008
	attBody            = 0x800C
	attAttachData      = 0x800F
	attAttachTitle     = 0x8010
	attAttachRendData  = 0x9002
	attMsgProps        = 0x9003
	attAttachment      = 0x9005
	attOemCodepage     = 0x9007
	levelMessage       = 1
	levelAttachment    = 2
	attributeHeaderLen = 9 // level, id (4), length (4)
)

// MAPI property identifiers ([MS-OXPROPS]).
const (
	prBody              = 0x1000
	prRTFCompressed     = 0x1009
	prBodyHTML          = 0x1013
	prSubject           = 0x0037
	prInternetMessageID = 0x1035
	prAttachDataBin     = 0x3701 // also PR_ATTACH_DATA_OBJ, as PT_OBJECT
	prAttachFilename    = 0x3704
	prAttachMethod      = 0x3705
	prAttachLongName    = 0x3707
	prAttachMIMETag     = 0x370E
)

// MAPI property types ([MS-OXCDATA] §2.11.1).
const (
	ptUnspecified = 0x0000
	ptNull        = 0x0001
	ptI2          = 0x0002
	ptLong        = 0x0003
	ptFloat       = 0x0004
	ptDouble      = 0x0005
	ptCurrency    = 0x0006
	ptAppTime     = 0x0007
	ptError       = 0x000A
	ptBoolean     = 0x000B
	ptObject      = 0x000D
	ptI8          = 0x0014
	ptString8     = 0x001E
	ptUnicode     = 0x001F
	ptSysTime     = 0x0040
	ptCLSID       = 0x0048
	ptServerID    = 0x00FB
	ptRestriction = 0x00FD
	ptBinary      = 0x0102
	mvFlag        = 0x1000
)

// iidIMessage is the interface identifier that precedes an embedded
// message in PR_ATTACH_DATA_OBJ: {00020307-0000-0000-C000-000000000046}.
var iidIMessage = []byte{0x07, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46}

// Decode reads a TNEF stream. It returns ErrNotTNEF when data does not
// start with the signature; for a damaged stream it returns what it could
// read, with Warnings, and no error.
func Decode(data []byte) (*Message, error) {
	return decode(data, 0, nil)
}

// DecodeWork is Decode drawing on a work budget: each attribute and
// property read is charged its bytes, and the stream is read no further
// once the budget is spent (a warning says so).
func DecodeWork(data []byte, w *work.Budget) (*Message, error) {
	return decode(data, 0, w)
}

func decode(data []byte, depth int, w *work.Budget) (*Message, error) {
	if len(data) < 6 || binary.LittleEndian.Uint32(data) != Signature {
		return nil, ErrNotTNEF
	}
	d := &decoder{msg: &Message{}, codepage: 1252, depth: depth, w: w}
	d.read(data[6:])
	return d.msg, nil
}

type decoder struct {
	msg      *Message
	codepage uint32
	depth    int
	cur      *Attachment
	w        *work.Budget
}

// spend charges n units, with a warning when the budget is spent.
func (d *decoder) spend(n int) bool {
	if d.w.Spend(int64(n)) {
		return true
	}
	d.warn("work budget spent: rest ignored")
	return false
}

func (d *decoder) warn(format string, args ...any) {
	if len(d.msg.Warnings) < 20 {
		d.msg.Warnings = append(d.msg.Warnings, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) read(b []byte) {
	for n := 0; len(b) > 0; n++ {
		if n == maxAttributes {
			d.warn("more than %d attributes: rest ignored", maxAttributes)
			return
		}
		if len(b) < attributeHeaderLen {
			d.warn("%d trailing bytes", len(b))
			return
		}
		level := b[0]
		id := binary.LittleEndian.Uint32(b[1:5])
		length := binary.LittleEndian.Uint32(b[5:9])
		b = b[attributeHeaderLen:]
		var value []byte
		if uint64(length)+2 > uint64(len(b)) {
			d.warn("attribute 0x%08x truncated: %d bytes announced, %d left", id, length, len(b))
			value = b
			if uint64(length) < uint64(len(b)) {
				value = b[:length]
			}
			b = nil
		} else {
			value = b[:length]
			sum := binary.LittleEndian.Uint16(b[length : length+2])
			if checksum(value) != sum {
				d.warn("attribute 0x%08x: bad checksum", id)
			}
			b = b[length+2:]
		}
		if !d.spend(attributeHeaderLen + len(value)) {
			return
		}
		d.attribute(level, id, value)
	}
}

func checksum(b []byte) uint16 {
	var s uint16
	for _, c := range b {
		s += uint16(c)
	}
	return s
}

func (d *decoder) attribute(level byte, id uint32, v []byte) {
	name := id & 0xFFFF
	switch level {
	case levelMessage:
		switch name {
		case attOemCodepage:
			if len(v) >= 4 {
				d.codepage = binary.LittleEndian.Uint32(v)
			}
		case attSubject:
			d.msg.Subject = d.string8(v)
		case attMessageID:
			d.msg.MessageID = d.string8(v)
		case attMessageClass:
			d.msg.MessageClass = d.string8(v)
		case attBody:
			d.msg.Body = d.string8(v)
		case attMsgProps:
			d.properties(v, func(p property) {
				switch p.id {
				case prBody:
					if s, ok := d.text(p); ok {
						d.msg.Body = s
					}
				case prBodyHTML:
					if len(p.values) > 0 {
						d.msg.HTML = p.values[0]
					}
				case prRTFCompressed:
					d.msg.HasRTF = true
				case prSubject:
					if s, ok := d.text(p); ok && d.msg.Subject == "" {
						d.msg.Subject = s
					}
				case prInternetMessageID:
					if s, ok := d.text(p); ok {
						d.msg.MessageID = s
					}
				}
			})
		}
	case levelAttachment:
		if name == attAttachRendData || d.cur == nil {
			d.cur = &Attachment{}
			d.msg.Attachments = append(d.msg.Attachments, d.cur)
			if name == attAttachRendData {
				return
			}
		}
		a := d.cur
		switch name {
		case attAttachTitle:
			a.Title = d.string8(v)
		case attAttachData:
			a.Data = v
		case attAttachment:
			d.properties(v, func(p property) {
				switch p.id {
				case prAttachLongName:
					if s, ok := d.text(p); ok {
						a.LongName = s
					}
				case prAttachFilename:
					if s, ok := d.text(p); ok && a.LongName == "" {
						a.LongName = s
					}
				case prAttachMIMETag:
					if s, ok := d.text(p); ok {
						a.MIMEType = s
					}
				case prAttachMethod:
					if len(p.values) > 0 && len(p.values[0]) >= 4 {
						a.Method = int(binary.LittleEndian.Uint32(p.values[0]))
					}
				case prAttachDataBin:
					if len(p.values) == 0 {
						return
					}
					val := p.values[0]
					if p.typ == ptObject {
						embedded := len(val) >= 16 && string(val[:16]) == string(iidIMessage)
						if len(val) >= 16 {
							val = val[16:]
						}
						if embedded {
							if d.depth+1 > MaxDepth {
								d.warn("embedded message nested deeper than %d: not decoded", MaxDepth)
							} else if m, err := decode(val, d.depth+1, d.w); err == nil {
								a.Embedded = m
							}
						}
					}
					if len(a.Data) == 0 || p.typ == ptObject {
						a.Data = val
					}
				}
			})
		}
	default:
		d.warn("attribute 0x%08x: unknown level %d", id, level)
	}
}

// property is one MAPI property: its identifier, type and raw values.
type property struct {
	id, typ uint16
	values  [][]byte
}

// properties reads a MAPI property list (§2.1.3.4) and calls fn for each
// property read. It stops at the first property it cannot read.
func (d *decoder) properties(b []byte, fn func(property)) {
	r := reader{b: b}
	count, ok := r.u32()
	if !ok {
		d.warn("property list truncated")
		return
	}
	for i := uint32(0); i < count; i++ {
		if i == maxProperties {
			d.warn("more than %d properties: rest ignored", maxProperties)
			return
		}
		typ, ok1 := r.u16()
		id, ok2 := r.u16()
		if !ok1 || !ok2 {
			d.warn("property list truncated")
			return
		}
		if id >= 0x8000 {
			// A named property: its GUID, then a numeric ID or a
			// UTF-16 name.
			if !r.skip(16) {
				d.warn("named property truncated")
				return
			}
			kind, ok := r.u32()
			if !ok {
				d.warn("named property truncated")
				return
			}
			switch kind {
			case 0:
				if !r.skip(4) {
					d.warn("named property truncated")
					return
				}
			case 1:
				n, ok := r.u32()
				if !ok || !r.skip(pad4(uint64(n))) {
					d.warn("named property truncated")
					return
				}
			default:
				d.warn("named property of unknown kind %d", kind)
				return
			}
		}
		p := property{id: id, typ: typ &^ mvFlag}
		multi := typ&mvFlag != 0
		start := len(r.b)
		if !r.values(&p, multi) {
			d.warn("property 0x%04x of type 0x%04x unreadable: rest of list ignored", id, typ)
			return
		}
		if !d.spend(16 + start - len(r.b)) {
			return
		}
		fn(p)
	}
}

// pad4 rounds n up to a multiple of 4.
func pad4(n uint64) uint64 { return (n + 3) &^ 3 }

// fixedSize is the size a fixed-length property takes in a stream,
// padding included; 0 for variable-length types.
func fixedSize(typ uint16) (uint64, bool) {
	switch typ {
	case ptNull, ptI2, ptLong, ptFloat, ptError, ptBoolean:
		return 4, true
	case ptDouble, ptCurrency, ptAppTime, ptI8, ptSysTime:
		return 8, true
	case ptCLSID:
		return 16, true
	case ptUnspecified, ptString8, ptUnicode, ptObject, ptBinary, ptServerID, ptRestriction:
		return 0, true
	}
	return 0, false
}

func (r *reader) values(p *property, multi bool) bool {
	size, known := fixedSize(p.typ)
	if !known {
		return false
	}
	count := uint32(1)
	if multi || size == 0 {
		// Variable-length values, and every multi-valued property,
		// start with a count of values.
		c, ok := r.u32()
		if !ok {
			return false
		}
		count = c
	}
	if count > maxValues {
		return false
	}
	for i := uint32(0); i < count; i++ {
		if size > 0 {
			v, ok := r.take(size)
			if !ok {
				return false
			}
			p.values = append(p.values, v)
			continue
		}
		n, ok := r.u32()
		if !ok {
			return false
		}
		v, ok := r.take(uint64(n))
		if !ok {
			return false
		}
		r.skip(pad4(uint64(n)) - uint64(n))
		p.values = append(p.values, v)
	}
	return true
}

// text decodes a string property.
func (d *decoder) text(p property) (string, bool) {
	if len(p.values) == 0 {
		return "", false
	}
	switch p.typ {
	case ptUnicode:
		return utf16le(p.values[0]), true
	case ptString8:
		return d.string8(p.values[0]), true
	case ptBinary:
		return d.string8(p.values[0]), true
	}
	return "", false
}

func utf16le(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, binary.LittleEndian.Uint16(b[i:]))
	}
	return strings.TrimRight(string(utf16.Decode(u)), "\x00")
}

// string8 decodes an 8-bit string in the stream's OEM code page.
func (d *decoder) string8(b []byte) string {
	b = []byte(strings.TrimRight(string(b), "\x00"))
	if enc := codepage(d.codepage); enc != nil {
		if s, err := enc.NewDecoder().Bytes(b); err == nil {
			return string(s)
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func codepage(cp uint32) encoding.Encoding {
	switch cp {
	case 65001:
		return nil
	case 437:
		return charmap.CodePage437
	case 850:
		return charmap.CodePage850
	case 866:
		return charmap.CodePage866
	case 874:
		return charmap.Windows874
	case 932:
		return japanese.ShiftJIS
	case 936:
		return simplifiedchinese.GBK
	case 949:
		return korean.EUCKR
	case 950:
		return traditionalchinese.Big5
	case 1250:
		return charmap.Windows1250
	case 1251:
		return charmap.Windows1251
	case 1253:
		return charmap.Windows1253
	case 1254:
		return charmap.Windows1254
	case 1255:
		return charmap.Windows1255
	case 1256:
		return charmap.Windows1256
	case 1257:
		return charmap.Windows1257
	case 1258:
		return charmap.Windows1258
	case 20866:
		return charmap.KOI8R
	case 21866:
		return charmap.KOI8U
	case 28591:
		return charmap.ISO8859_1
	case 28605:
		return charmap.ISO8859_15
	}
	return charmap.Windows1252
}

// reader reads little-endian values from a byte slice, never past its end.
type reader struct {
	b []byte
}

func (r *reader) take(n uint64) ([]byte, bool) {
	if n > uint64(len(r.b)) {
		return nil, false
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v, true
}

func (r *reader) skip(n uint64) bool {
	_, ok := r.take(n)
	return ok
}

func (r *reader) u16() (uint16, bool) {
	v, ok := r.take(2)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint16(v), true
}

func (r *reader) u32() (uint32, bool) {
	v, ok := r.take(4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(v), true
}
