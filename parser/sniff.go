package parser

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"net/http"
	"strings"
)

// sniff returns the media type the bytes show. The bytes win over the
// label, except where the label refines what the bytes show: a zip or OLE
// container declared as a word processor or spreadsheet document keeps
// its declared type.
func sniff(data []byte, declared string) string {
	t := magic(data)
	switch t {
	case "application/zip":
		if isOfficeType(declared) || strings.HasSuffix(declared, "+zip") || strings.Contains(declared, "zip") {
			return declared
		}
	case "application/x-ole-storage":
		if isOfficeType(declared) {
			return declared
		}
	case "":
		t = http.DetectContentType(data)
		if i := strings.IndexByte(t, ';'); i >= 0 {
			t = t[:i]
		}
	}
	return t
}

func isOfficeType(t string) bool {
	return strings.HasPrefix(t, "application/vnd.") || t == "application/msword" || t == "application/vnd.ms-excel"
}

// magic recognises the formats recoverybot cares about by their
// signatures; "" when none matches.
func magic(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return "image/jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "image/gif"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "image/webp"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return "image/tiff"
	case bytes.HasPrefix(b, []byte("BM")) && len(b) >= 26 && binary.LittleEndian.Uint32(b[2:6]) >= 26:
		return "image/bmp"
	case len(b) >= 12 && string(b[4:8]) == "ftyp":
		return ftypType(b)
	case bytes.Contains(head(b, 1024), []byte("%PDF-")):
		return "application/pdf"
	case bytes.HasPrefix(b, []byte("PK\x03\x04")), bytes.HasPrefix(b, []byte("PK\x05\x06")):
		return "application/zip"
	case bytes.HasPrefix(b, []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")):
		return "application/x-ole-storage"
	case bytes.HasPrefix(b, []byte{0x78, 0x9F, 0x3E, 0x22}):
		return "application/ms-tnef"
	case bytes.HasPrefix(b, []byte("MZ")):
		return "application/x-msdownload"
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		return "application/x-elf"
	case bytes.HasPrefix(b, []byte("{\\rtf")):
		return "application/rtf"
	case bytes.HasPrefix(b, []byte("%!PS")):
		return "application/postscript"
	}
	return ""
}

func head(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// ftypType reads the brands of an ISO base media file (ISO/IEC 14496-12
// §4.3): HEIF images from phones, AVIF, or video.
func ftypType(b []byte) string {
	size := int(binary.BigEndian.Uint32(b[:4]))
	if size < 16 || size > len(b) || size > 4096 {
		size = min(len(b), 64)
	}
	brands := []string{string(b[8:12])}
	for i := 16; i+4 <= size; i += 4 {
		brands = append(brands, string(b[i:i+4]))
	}
	for _, br := range brands {
		switch br {
		case "heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs":
			return "image/heic"
		case "avif", "avis":
			return "image/avif"
		}
	}
	for _, br := range brands {
		if br == "mif1" || br == "msf1" {
			return "image/heif"
		}
	}
	if brands[0] == "qt  " {
		return "video/quicktime"
	}
	return "video/mp4"
}

// imageInfo is what an image's header says, read without decoding it.
type imageInfo struct {
	width, height int64
	truncated     bool
	corrupt       string // why the structure is unreadable, or ""
}

// imageHeaderTypes are the media types inspectImage reads.
var imageHeaderTypes = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true, "image/tiff": true,
	"image/bmp": true, "image/heic": true, "image/heif": true, "image/avif": true,
}

// inspectImage reads the dimensions of an image from its header, and
// checks its structure ends where it should.
func inspectImage(mediaType string, b []byte) (imageInfo, bool) {
	switch mediaType {
	case "image/jpeg":
		return jpegInfo(b), true
	case "image/png":
		return pngInfo(b), true
	case "image/gif":
		return gifInfo(b), true
	case "image/webp":
		return webpInfo(b), true
	case "image/tiff":
		return tiffInfo(b), true
	case "image/bmp":
		w := int64(int32(binary.LittleEndian.Uint32(b[18:22])))
		h := int64(int32(binary.LittleEndian.Uint32(b[22:26])))
		return imageInfo{width: abs64(w), height: abs64(h)}, true
	case "image/heic", "image/heif", "image/avif":
		return heifInfo(b), true
	}
	return imageInfo{}, false
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// jpegInfo walks the marker segments (ITU T.81 §B.1) to the frame header
// and the start of scan; the image ends with EOI.
func jpegInfo(b []byte) imageInfo {
	var info imageInfo
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			info.corrupt = "bad marker"
			return info
		}
		m := b[i+1]
		switch {
		case m == 0xFF:
			i++
			continue
		case m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7):
			i += 2
			continue
		case m == 0xD9:
			info.corrupt = "no image data"
			return info
		}
		l := int(binary.BigEndian.Uint16(b[i+2 : i+4]))
		if l < 2 || i+2+l > len(b) {
			info.truncated = true
			return info
		}
		seg := b[i+4 : i+2+l]
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC && len(seg) >= 5 {
			info.height = int64(binary.BigEndian.Uint16(seg[1:3]))
			info.width = int64(binary.BigEndian.Uint16(seg[3:5]))
		}
		if m == 0xDA {
			// Entropy-coded data: an FF in it is stuffed (FF 00) or a
			// restart marker, so the first FF D9 after it ends the image.
			if !bytes.Contains(b[i+2+l:], []byte{0xFF, 0xD9}) {
				info.truncated = true
			}
			return info
		}
		i += 2 + l
	}
	info.truncated = true
	return info
}

// pngInfo walks the chunks (PNG §5.3), checking their CRCs, to IEND.
func pngInfo(b []byte) imageInfo {
	var info imageInfo
	i := 8
	for n := 0; ; n++ {
		if i+12 > len(b) {
			info.truncated = true
			return info
		}
		l := int64(binary.BigEndian.Uint32(b[i : i+4]))
		if l > int64(len(b)-i-12) {
			info.truncated = true
			return info
		}
		typ := string(b[i+4 : i+8])
		data := b[i+8 : i+8+int(l)]
		crc := binary.BigEndian.Uint32(b[i+8+int(l):])
		if crc32.ChecksumIEEE(b[i+4:i+8+int(l)]) != crc && info.corrupt == "" {
			info.corrupt = "bad CRC in " + typ + " chunk"
		}
		if n == 0 {
			if typ != "IHDR" || len(data) < 8 {
				info.corrupt = "no IHDR"
				return info
			}
			info.width = int64(binary.BigEndian.Uint32(data[0:4]))
			info.height = int64(binary.BigEndian.Uint32(data[4:8]))
		}
		if typ == "IEND" {
			return info
		}
		i += 12 + int(l)
	}
}

// gifInfo reads the logical screen (GIF89a §18) and checks the trailer.
func gifInfo(b []byte) imageInfo {
	var info imageInfo
	if len(b) < 13 {
		info.truncated = true
		return info
	}
	info.width = int64(binary.LittleEndian.Uint16(b[6:8]))
	info.height = int64(binary.LittleEndian.Uint16(b[8:10]))
	t := bytes.TrimRight(b, "\x00")
	if len(t) == 0 || t[len(t)-1] != 0x3B {
		info.truncated = true
	}
	return info
}

// webpInfo reads the RIFF size and the VP8, VP8L or VP8X header.
func webpInfo(b []byte) imageInfo {
	var info imageInfo
	if len(b) < 30 {
		info.truncated = true
		return info
	}
	if int64(binary.LittleEndian.Uint32(b[4:8]))+8 > int64(len(b)) {
		info.truncated = true
	}
	switch string(b[12:16]) {
	case "VP8X":
		info.width = 1 + (int64(b[24]) | int64(b[25])<<8 | int64(b[26])<<16)
		info.height = 1 + (int64(b[27]) | int64(b[28])<<8 | int64(b[29])<<16)
	case "VP8 ":
		info.width = int64(binary.LittleEndian.Uint16(b[26:28]) & 0x3FFF)
		info.height = int64(binary.LittleEndian.Uint16(b[28:30]) & 0x3FFF)
	case "VP8L":
		v := binary.LittleEndian.Uint32(b[21:25])
		info.width = int64(v&0x3FFF) + 1
		info.height = int64(v>>14&0x3FFF) + 1
	default:
		info.corrupt = "unknown WebP chunk"
	}
	return info
}

// tiffInfo reads the first image file directory (TIFF 6.0 §2).
func tiffInfo(b []byte) imageInfo {
	var info imageInfo
	var bo binary.ByteOrder = binary.LittleEndian
	if b[0] == 'M' {
		bo = binary.BigEndian
	}
	if len(b) < 8 {
		info.truncated = true
		return info
	}
	off := int64(bo.Uint32(b[4:8]))
	if off+2 > int64(len(b)) {
		info.truncated = true
		return info
	}
	n := int64(bo.Uint16(b[off : off+2]))
	for i := int64(0); i < n && i < 1000; i++ {
		e := off + 2 + i*12
		if e+12 > int64(len(b)) {
			info.truncated = true
			return info
		}
		tag := bo.Uint16(b[e : e+2])
		typ := bo.Uint16(b[e+2 : e+4])
		var v int64
		switch typ {
		case 3:
			v = int64(bo.Uint16(b[e+8 : e+10]))
		case 4:
			v = int64(bo.Uint32(b[e+8 : e+12]))
		}
		switch tag {
		case 256:
			info.width = v
		case 257:
			info.height = v
		}
	}
	return info
}

// heifInfo walks the boxes of a HEIF file (ISO/IEC 23008-12) to the
// image spatial extents ('ispe') of its items, and takes the largest.
func heifInfo(b []byte) imageInfo {
	var info imageInfo
	var walk func(b []byte, depth int)
	walk = func(b []byte, depth int) {
		for len(b) >= 8 && depth < 8 {
			size := uint64(binary.BigEndian.Uint32(b[:4]))
			typ := string(b[4:8])
			hdr := uint64(8)
			switch size {
			case 0:
				size = uint64(len(b))
			case 1:
				if len(b) < 16 {
					info.truncated = true
					return
				}
				size, hdr = binary.BigEndian.Uint64(b[8:16]), 16
			}
			if size < hdr {
				info.corrupt = "bad box size"
				return
			}
			if size > uint64(len(b)) {
				info.truncated = true
				size = uint64(len(b))
			}
			body := b[hdr:size]
			switch typ {
			case "meta":
				if len(body) >= 4 {
					walk(body[4:], depth+1)
				}
			case "iprp", "ipco":
				walk(body, depth+1)
			case "ispe":
				if len(body) >= 12 {
					w := int64(binary.BigEndian.Uint32(body[4:8]))
					h := int64(binary.BigEndian.Uint32(body[8:12]))
					if float64(w)*float64(h) > float64(info.width)*float64(info.height) {
						info.width, info.height = w, h
					}
				}
			}
			b = b[size:]
		}
	}
	walk(b, 0)
	return info
}
