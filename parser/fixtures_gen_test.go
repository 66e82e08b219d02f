package parser

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"flag"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"golang.org/x/text/encoding/charmap"

	"github.com/recoverybot/recoverybot/parser/internal/testpdf"
)

// The fixtures in testdata/parser/*.eml are composed the way real mail
// clients compose them (header order, boundaries, transfer encodings,
// quoting styles of Apple Mail, Gmail, Outlook, Thunderbird and phones).
// Their binary parts (photos, PDF scans, winmail.dat) are generated
// here; `go test ./parser -run TestGenerateFixtures -genfixtures`
// rewrites them, after which the goldens must be reviewed and updated.
var genFixtures = flag.Bool("genfixtures", false, "rewrite testdata/parser/*.eml")

func b64(data []byte) string {
	s := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s + "\r\n")
	return b.String()
}

func qp(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func cp1252(s string) string {
	out, err := charmap.Windows1252.NewEncoder().String(s)
	if err != nil {
		panic(err)
	}
	return out
}

func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

func q(s string) string { return mime.QEncoding.Encode("utf-8", s) }

// heic is a HEIF image file as an iPhone writes one: ftyp, a meta box
// whose item properties give the image size, and the coded data.
func heic(w, h uint32) []byte {
	box := func(typ string, body []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
		return append(append(b, typ...), body...)
	}
	ispe := box("ispe", append([]byte{0, 0, 0, 0}, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, w), h)...))
	meta := box("meta", append([]byte{0, 0, 0, 0}, box("iprp", box("ipco", ispe))...))
	ftyp := box("ftyp", []byte("heic\x00\x00\x00\x00mif1MiHEmiafheic"))
	data := box("mdat", bytes.Repeat([]byte{0x26, 0x01, 0xAF, 0x13}, 4096))
	return append(append(ftyp, meta...), data...)
}

// winmailDat builds the TNEF stream Outlook attaches in rich text mode.
func winmailDat(files ...[2]string) []byte {
	var s bytes.Buffer
	le := binary.LittleEndian
	binary.Write(&s, le, uint32(0x223E9F78))
	binary.Write(&s, le, uint16(0x0BAD))
	attr := func(level byte, id uint32, data []byte) {
		s.WriteByte(level)
		binary.Write(&s, le, id)
		binary.Write(&s, le, uint32(len(data)))
		s.Write(data)
		var sum uint16
		for _, c := range data {
			sum += uint16(c)
		}
		binary.Write(&s, le, sum)
	}
	u16 := func(str string) []byte {
		var b bytes.Buffer
		for _, u := range utf16.Encode([]rune(str + "\x00")) {
			binary.Write(&b, le, u)
		}
		return b.Bytes()
	}
	varProp := func(typ, id uint16, v []byte) []byte {
		var b bytes.Buffer
		binary.Write(&b, le, typ)
		binary.Write(&b, le, id)
		binary.Write(&b, le, uint32(1))
		binary.Write(&b, le, uint32(len(v)))
		b.Write(v)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		return b.Bytes()
	}
	attr(1, 0x00089006, []byte{0, 0, 1, 0})                             // attTnefVersion
	attr(1, 0x00069007, le.AppendUint32(le.AppendUint32(nil, 1252), 0)) // attOemCodepage
	attr(1, 0x00078008, []byte("IPM.Microsoft Mail.Note\x00"))
	body := varProp(0x001F, 0x1000, u16("Bonjour,\r\n\r\nVeuillez trouver ci-joint les pièces demandées.\r\n\r\nCordialement,\r\nMarc Lefèvre\r\n"))
	attr(1, 0x00069003, append(le.AppendUint32(nil, 1), body...))
	for _, f := range files {
		name, data := f[0], []byte(f[1])
		attr(2, 0x00069002, le.AppendUint32(nil, 1))
		short := strings.ToUpper(strings.ReplaceAll(name, " ", ""))
		if len(short) > 12 {
			short = short[:6] + "~1" + short[strings.LastIndex(short, "."):]
		}
		attr(2, 0x00018010, []byte(cp1252(short)+"\x00"))
		attr(2, 0x0006800F, data)
		props := le.AppendUint32(nil, 2)
		props = append(props, varProp(0x001F, 0x3707, u16(name))...)
		props = append(props, 0x03, 0x00, 0x05, 0x37, 1, 0, 0, 0)
		attr(2, 0x00069005, props)
	}
	return s.Bytes()
}

const ourCodeMail = `Bonjour,

Suite à votre demande de déblocage (référence RC-7KQ2M9), voici votre code
de vérification : 4F7K-2M9Q

Répondez à ce message en joignant une copie de votre pièce d'identité.

Le support Exemple Hébergement`

func quote(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if l == "" {
			b.WriteString(">\n")
		} else {
			b.WriteString("> " + l + "\n")
		}
	}
	return b.String()
}

func fixtures() map[string]string {
	photo := jpegBytes(1200, 900)
	photo2 := jpegBytes(1200, 901)
	logo := pngBytes(180, 60)
	kbis := testpdf.Build([][]string{{
		"Greffe du tribunal de commerce de Paris",
		"Extrait Kbis",
		"EXTRAIT D'IMMATRICULATION PRINCIPALE AU REGISTRE DU COMMERCE ET DES SOCIETES",
		"à jour au 1er mars 2024",
		"Immatriculation au RCS, numéro 552 100 554 R.C.S. Paris",
		"Dénomination : EXEMPLE CONSEIL SARL",
	}}, testpdf.Options{})
	kbisT0 := testpdf.Build([][]string{{"Greffe du tribunal de commerce de Lyon", "Extrait Kbis", "552 100 554 R.C.S. Lyon"}}, testpdf.Options{ToUnicode: true, ObjectStream: true})
	statuts := testpdf.Build([][]string{{
		"STATUTS DE L'ASSOCIATION « LES AMIS DU CODE »",
		"Article 1 – Il est fondé entre les adhérents aux présents statuts une association régie par",
		"la loi du 1er juillet 1901 et le décret du 16 août 1901.",
		"Numéro RNA : W751234567",
	}, {"Article 2 – Objet", "Fait à Paris, le 12 mars 2019, en assemblée générale."}}, testpdf.Options{})
	passport := testpdf.Build([][]string{{"PASSEPORT", "RÉPUBLIQUE FRANÇAISE"}, strings.Split(passportMRZ, "\n")}, testpdf.Options{})
	cniScan := testpdf.Build([][]string{{}}, testpdf.Options{}) // a scan: no text layer
	idCard := testpdf.Build([][]string{strings.Split(frenchIDMRZ(), "\n")}, testpdf.Options{ToUnicode: true})
	manyPages := make([][]string, 320)
	for i := range manyPages {
		manyPages[i] = []string{fmt.Sprintf("page %d", i+1)}
	}

	f := map[string]string{}

	f["apple-mail-iphone-inline.eml"] = crlf(`Return-Path: <elodie.martin@example.org>
Authentication-Results: mx.example.net;
	dkim=pass (2048-bit key; unprotected) header.d=example.org header.i=@example.org header.a=rsa-sha256 header.s=s2023 header.b=Xq3Z7/aB;
	spf=pass (mx.example.net: domain of elodie.martin@example.org designates 192.0.2.25 as permitted sender) smtp.mailfrom=elodie.martin@example.org;
	dmarc=pass (p=quarantine dis=none) header.from=example.org
Content-Type: multipart/mixed; boundary=Apple-Mail-5B9C2D3E-6F7A-4B8C-9D0E-1F2A3B4C5D6E
Content-Transfer-Encoding: 7bit
From: ` + q("Élodie Martin") + ` <elodie.martin@example.org>
Mime-Version: 1.0 (1.0)
Date: Mon, 4 Mar 2024 10:42:17 +0100
Subject: ` + q("Re: [RC-7KQ2M9] Déblocage de votre compte") + `
Message-Id: <A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF@example.org>
References: <rc-7kq2m9.code.1@recoverybot.example.net>
In-Reply-To: <rc-7kq2m9.code.1@recoverybot.example.net>
To: Support Exemple <contact@example.net>
X-Mailer: iPhone Mail (21D61)


--Apple-Mail-5B9C2D3E-6F7A-4B8C-9D0E-1F2A3B4C5D6E
Content-Type: text/plain;
	charset=utf-8
Content-Transfer-Encoding: quoted-printable

` + qp("Bonjour,\n\nVoici ma carte d’identité, recto et verso. Le code reçu est 4F7K-2M9Q.\n\n") + `
--Apple-Mail-5B9C2D3E-6F7A-4B8C-9D0E-1F2A3B4C5D6E
Content-Type: image/jpeg;
	name=IMG_0417.jpeg;
	x-apple-part-url=8A1F33B2-0D2C-4E5B-8C9D-7E6F5A4B3C2D
Content-Disposition: inline;
	filename=IMG_0417.jpeg
Content-Transfer-Encoding: base64

` + b64(photo) + `
--Apple-Mail-5B9C2D3E-6F7A-4B8C-9D0E-1F2A3B4C5D6E
Content-Type: text/plain;
	charset=us-ascii
Content-Transfer-Encoding: 7bit



--Apple-Mail-5B9C2D3E-6F7A-4B8C-9D0E-1F2A3B4C5D6E
Content-Type: image/jpeg;
	name=IMG_0418.jpeg
Content-Disposition: inline;
	filename=IMG_0418.jpeg
Content-Transfer-Encoding: base64

` + b64(photo2) + `
--Apple-Mail-5B9C2D3E-6F7A-4B8C-9D0E-1F2A3B4C5D6E
Content-Type: text/plain;
	charset=utf-8
Content-Transfer-Encoding: quoted-printable

` + qp("\n\nEnvoyé de mon iPhone\n\n> Le 4 mars 2024 à 10:15, Support Exemple <contact@example.net> a écrit :\n>\n"+quote(ourCodeMail)) + `
--Apple-Mail-5B9C2D3E-6F7A-4B8C-9D0E-1F2A3B4C5D6E--
`)

	f["gmail-id-and-kbis.eml"] = crlf(`Delivered-To: contact@example.net
Authentication-Results: mx.example.net;
	dkim=pass header.d=gmail.com header.s=20230601 header.b=kL0x9Zq1;
	spf=pass smtp.mailfrom=marc.lefevre.pro@gmail.com;
	dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) header.from=gmail.com
Received: by mail-wm1-f41.google.com with SMTP id 5b1f17b1804b1-412f1b8e2b8so21331875e9.0
        for <contact@example.net>; Mon, 04 Mar 2024 02:03:11 -0800 (PST)
Authentication-Results: mx.google.com;
       dkim=pass header.i=@gmail.com header.s=20230601 header.b=kL0x9Zq1;
       spf=pass (google.com: domain of marc.lefevre.pro@gmail.com designates 209.85.128.41 as permitted sender) smtp.mailfrom=marc.lefevre.pro@gmail.com;
       dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) header.from=gmail.com
MIME-Version: 1.0
From: Marc Lefevre <marc.lefevre.pro@gmail.com>
Date: Mon, 4 Mar 2024 11:02:58 +0100
Message-ID: <CAF3kT8hZ0x+Q1mW2pR9sT7uV5wX3yZ1aB4cD6eF8gH0iJ2kL4m@mail.gmail.com>
Subject: Kbis et CNI pour le compte exemple-conseil
To: contact@example.net
Content-Type: multipart/mixed; boundary="000000000000a1b2c3061301d4e5"

--000000000000a1b2c3061301d4e5
Content-Type: multipart/alternative; boundary="000000000000a1b2c1061301d4e3"

--000000000000a1b2c1061301d4e3
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

` + qp("Bonjour,\n\nci-joint ma carte d'identité et le Kbis de la société (dossier RC-9HXW4T).\n\nCordialement,\nMarc Lefèvre\nGérant, Exemple Conseil\n") + `
--000000000000a1b2c1061301d4e3
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

` + qp(`<div dir="ltr">Bonjour,<div><br></div><div>ci-joint ma carte d&#39;identité et le Kbis de la société (dossier RC-9HXW4T).</div><div><br></div><div>Cordialement,</div><div>Marc Lefèvre<br>Gérant, Exemple Conseil</div></div>`+"\n") + `
--000000000000a1b2c1061301d4e3--
--000000000000a1b2c3061301d4e5
Content-Type: image/jpeg; name="IMG_20240304_105512.jpg"
Content-Disposition: attachment; filename="IMG_20240304_105512.jpg"
Content-Transfer-Encoding: base64
Content-ID: <f_lte3k9x20>
X-Attachment-Id: f_lte3k9x20

` + b64(photo) + `--000000000000a1b2c3061301d4e5
Content-Type: application/pdf; name="document_2024-03.pdf"
Content-Disposition: attachment; filename="document_2024-03.pdf"
Content-Transfer-Encoding: base64
Content-ID: <f_lte3k9x31>
X-Attachment-Id: f_lte3k9x31

` + b64(kbis) + `--000000000000a1b2c3061301d4e5--
`)

	f["outlook-winmail.eml"] = crlf(`Received: from PAXPR02MB7246.eurprd02.prod.outlook.com ([fe80::1]) by PAXPR02MB7246.eurprd02.prod.outlook.com
 ([fe80::1%5]) with mapi id 15.20.7362.019; Mon, 4 Mar 2024 09:30:12 +0000
Authentication-Results: mx.example.net; dkim=pass header.d=exemple-conseil.fr; spf=pass smtp.mailfrom=exemple-conseil.fr; dmarc=pass header.from=exemple-conseil.fr
Authentication-Results: spf=pass (sender IP is 40.107.22.41)
 smtp.mailfrom=exemple-conseil.fr; dkim=pass (signature was verified)
 header.d=exemple-conseil.fr;dmarc=pass action=none
 header.from=exemple-conseil.fr;compauth=pass reason=100
From: =?iso-8859-1?Q?Marc_Lef=E8vre?= <marc@exemple-conseil.fr>
To: "contact@example.net" <contact@example.net>
Subject: =?iso-8859-1?Q?RE:_D=E9blocage_RC-9HXW4T?=
Thread-Topic: =?iso-8859-1?Q?D=E9blocage_RC-9HXW4T?=
Thread-Index: AdpuE4Xk3k1Lw1y9QkG0xYxq6Q7Jxw==
Date: Mon, 4 Mar 2024 09:30:11 +0000
Message-ID: <PAXPR02MB72463E0B1E2F4A5B6C7D8E9FA0B1C@PAXPR02MB7246.eurprd02.prod.outlook.com>
Accept-Language: fr-FR, en-US
Content-Language: fr-FR
X-MS-Has-Attach: yes
X-MS-TNEF-Correlator: <PAXPR02MB72463E0B1E2F4A5B6C7D8E9FA0B1C@PAXPR02MB7246.eurprd02.prod.outlook.com>
Content-Type: multipart/mixed;
	boundary="_002_PAXPR02MB72463E0B1E2F4A5B6C7D8E9FA0B1CPAXPR02MB7246eurp_"
MIME-Version: 1.0

--_002_PAXPR02MB72463E0B1E2F4A5B6C7D8E9FA0B1CPAXPR02MB7246eurp_
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

` + qp(cp1252("Bonjour,\n\nVeuillez trouver ci-joint les pièces demandées.\n\nCordialement,\nMarc Lefèvre\n")) + `
--_002_PAXPR02MB72463E0B1E2F4A5B6C7D8E9FA0B1CPAXPR02MB7246eurp_
Content-Type: application/ms-tnef; name="winmail.dat"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="winmail.dat"

` + b64(winmailDat([2]string{"Passeport Marc Lefèvre.pdf", string(passport)}, [2]string{"Extrait Kbis.pdf", string(kbisT0)})) + `
--_002_PAXPR02MB72463E0B1E2F4A5B6C7D8E9FA0B1CPAXPR02MB7246eurp_--
`)

	f["thunderbird-statuts-reply.eml"] = crlf(`Authentication-Results: mx.example.net; dkim=pass header.d=amis-du-code.org; dmarc=pass header.from=amis-du-code.org
Content-Type: multipart/mixed; boundary="------------0aLx1yY2zZ3wW4vV5uU6tT7s"
Message-ID: <5f3c2a1b-7d8e-4f90-a1b2-c3d4e5f6a7b8@amis-du-code.org>
Date: Tue, 5 Mar 2024 18:20:44 +0100
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Content-Language: fr
To: Support Exemple <contact@example.net>
From: =?UTF-8?Q?Fran=C3=A7oise_Bernard?= <presidence@amis-du-code.org>
Subject: Re: [RC-7KQ2M9] =?UTF-8?Q?D=C3=A9blocage_de_votre_compte?=
References: <rc-7kq2m9.code.1@recoverybot.example.net>
In-Reply-To: <rc-7kq2m9.code.1@recoverybot.example.net>

This is a multi-part message in MIME format.
--------------0aLx1yY2zZ3wW4vV5uU6tT7s
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit

Bonjour,

Voici les statuts de l'association et le passeport de la présidente.

Bien à vous,
Françoise Bernard

Le 05/03/2024 à 09:12, Support Exemple a écrit :
` + quote(ourCodeMail) + `
--------------0aLx1yY2zZ3wW4vV5uU6tT7s
Content-Type: application/pdf; name="statuts-2019.pdf"
Content-Disposition: attachment; filename="statuts-2019.pdf"
Content-Transfer-Encoding: base64

` + b64(statuts) + `--------------0aLx1yY2zZ3wW4vV5uU6tT7s
Content-Type: image/jpeg; name="20240305_181944.jpg"
Content-Disposition: attachment; filename="20240305_181944.jpg"
Content-Transfer-Encoding: base64

` + b64(photo) + `
--------------0aLx1yY2zZ3wW4vV5uU6tT7s--
`)

	f["android-gmail-pasted-image.eml"] = crlf(`Authentication-Results: mx.example.net; dkim=pass header.d=gmail.com; dmarc=pass header.from=gmail.com
MIME-Version: 1.0
From: Julie Petit <julie.petit.1987@gmail.com>
Date: Wed, 6 Mar 2024 08:14:03 +0100
Message-ID: <CAM9x2Lk7hP4q+3vT1zR8wN6yB0uE5sA2dF9gH7jK1lZ3xC5vBn@mail.gmail.com>
Subject: Passeport
To: contact@example.net
Content-Type: multipart/related; boundary="0000000000007d4e5f0613002a1b"

--0000000000007d4e5f0613002a1b
Content-Type: multipart/alternative; boundary="0000000000007d4e5e0613002a1a"

--0000000000007d4e5e0613002a1a
Content-Type: text/plain; charset="UTF-8"

Bonjour voici mon passeport
[image: IMG_20240306_081122.jpg]
Code 7KQ2 M9XA

--0000000000007d4e5e0613002a1a
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

` + qp(`<div dir="auto">Bonjour voici mon passeport<div dir="auto"><img src="cid:ii_lteyx3n50" alt="IMG_20240306_081122.jpg" width="562" height="422"><br></div><div dir="auto">Code 7KQ2 M9XA</div></div>`+"\n") + `
--0000000000007d4e5e0613002a1a--
--0000000000007d4e5f0613002a1b
Content-Type: image/jpeg; name="IMG_20240306_081122.jpg"
Content-Disposition: inline; filename="IMG_20240306_081122.jpg"
Content-Transfer-Encoding: base64
Content-ID: <ii_lteyx3n50>
X-Attachment-Id: ii_lteyx3n50

` + b64(photo) + `--0000000000007d4e5f0613002a1b--
`)

	f["iphone-heic.eml"] = crlf(`Authentication-Results: mx.example.net; dkim=pass header.d=icloud.com; dmarc=pass header.from=icloud.com
From: Paul Durand <paul.durand@icloud.com>
Content-Type: multipart/mixed; boundary=Apple-Mail-E0F1A2B3-C4D5-4E6F-8A9B-0C1D2E3F4A5B
Content-Transfer-Encoding: 7bit
Mime-Version: 1.0 (1.0)
Subject: Carte identite
Date: Wed, 6 Mar 2024 21:05:33 +0100
Message-Id: <0F1E2D3C-4B5A-4697-8877-665544332211@icloud.com>
To: contact@example.net
X-Mailer: iPhone Mail (21D61)


--Apple-Mail-E0F1A2B3-C4D5-4E6F-8A9B-0C1D2E3F4A5B
Content-Type: text/plain;
	charset=us-ascii
Content-Transfer-Encoding: 7bit



--Apple-Mail-E0F1A2B3-C4D5-4E6F-8A9B-0C1D2E3F4A5B
Content-Type: image/heic;
	name=IMG_2231.HEIC
Content-Disposition: attachment;
	filename=IMG_2231.HEIC
Content-Transfer-Encoding: base64

` + b64(heic(4032, 3024)) + `
--Apple-Mail-E0F1A2B3-C4D5-4E6F-8A9B-0C1D2E3F4A5B
Content-Type: text/plain;
	charset=utf-8
Content-Transfer-Encoding: quoted-printable

` + qp("\n\nEnvoyé de mon iPhone") + `
--Apple-Mail-E0F1A2B3-C4D5-4E6F-8A9B-0C1D2E3F4A5B--
`)

	f["html-only-bold-code.eml"] = crlf(`Authentication-Results: mx.example.net; dkim=pass header.d=outlook.fr; spf=pass smtp.mailfrom=outlook.fr; dmarc=pass header.from=outlook.fr
From: Sophie Roux <sophie.roux@outlook.fr>
To: "contact@example.net" <contact@example.net>
Subject: =?utf-8?B?UmU6IFtSQy03S1EyTTldIETDqWJsb2NhZ2U=?=
Date: Thu, 7 Mar 2024 07:58:40 +0000
Message-ID: <DB9PR08MB6588A1B2C3D4E5F6@DB9PR08MB6588.eurprd08.prod.outlook.com>
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: quoted-printable
MIME-Version: 1.0

` + qp(`<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><style>p{margin:0}</style></head>
<body dir="ltr"><div style="font-family: Aptos, sans-serif;">Bonjour,</div>
<div>Mon code&nbsp;: <b>4F7K</b>-<b>2M9Q</b></div><div>Merci&nbsp;!</div>
<div id="appendonsend"></div><hr style="display:inline-block;width:98%">
<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif"><b>De&nbsp;:</b> Support Exemple &lt;contact@example.net&gt;<br><b>Envoyé&nbsp;:</b> mercredi 6 mars 2024 10:15<br><b>À&nbsp;:</b> Sophie Roux<br><b>Objet&nbsp;:</b> [RC-7KQ2M9] Déblocage</font><div>&nbsp;</div></div>
<div>Voici votre code de vérification : <b>9Q2M-K7F4</b></div>
</body></html>`) + `
`)

	f["outlook-express-windows-1252.eml"] = crlf(`Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=orange.fr; dkim=none; dmarc=none header.from=orange.fr
From: "Georges Lambert" <georges.lambert@orange.fr>
To: <contact@example.net>
Subject: =?windows-1252?Q?Re=A0: code de d=E9blocage =96 RC-7KQ2M9?=
Date: Thu, 7 Mar 2024 16:02:11 +0100
Message-ID: <000a01da70a4$3b2c1d00$b1845700$@orange.fr>
MIME-Version: 1.0
Content-Type: text/plain;
	charset="windows-1252"
Content-Transfer-Encoding: quoted-printable
X-Mailer: Microsoft Windows Live Mail 16.4.3528.331

` + qp(cp1252("Bonjour,\n\nJe n’arrive plus à me connecter ; voici le code : 4f7k 2m9q.\nJe vous joins ma carte d’identité par un autre mail (coût : 0 €).\n\nBien cordialement,\nGeorges Lambert\n\n-----Original Message-----\nFrom: Support Exemple\nSent: Wednesday, March 6, 2024 10:15 AM\nTo: georges.lambert@orange.fr\nSubject: [RC-7KQ2M9] Déblocage\n\n"+ourCodeMail+"\n")) + `
`)

	f["gmail-quoted-code-only.eml"] = crlf(`Authentication-Results: mx.example.net; dkim=pass header.d=gmail.com; dmarc=pass header.from=gmail.com
MIME-Version: 1.0
From: Elodie Martin <elodie.martin@gmail.com>
Date: Fri, 8 Mar 2024 09:01:12 +0100
Message-ID: <CAB7yZq2mN4pR6sT8uV0wX2yZ4aB6cD8eF0gH2iJ4kL6mN8oP0q@mail.gmail.com>
Subject: Re: [RC-7KQ2M9] =?UTF-8?Q?D=C3=A9blocage_de_votre_compte?=
To: Support Exemple <contact@example.net>
In-Reply-To: <rc-7kq2m9.code.1@recoverybot.example.net>
References: <rc-7kq2m9.code.1@recoverybot.example.net>
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

` + qp("Merci, c'est bien moi.\n\nOn Wed, Mar 6, 2024 at 10:15 AM Support Exemple <contact@example.net>\nwrote:\n\n"+quote(ourCodeMail)) + `
`)

	f["forged-two-from.eml"] = crlf(`Authentication-Results: evil.example; dkim=pass header.d=example.org; dmarc=pass header.from=example.org
From: Elodie Martin <elodie.martin@example.org>
From: attacker@evil.example
Reply-To: attacker@evil.example
Sender: bulk@evil.example
To: contact@example.net
Subject: [RC-7KQ2M9] code 4F7K-2M9Q
Date: Fri, 8 Mar 2024 03:00:00 +0000
Message-ID: <forged-1@evil.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Voici le code.
`)

	// A genuine signed mail of the customer replayed with a new Subject
	// and Message-ID on top: DKIM covers the last of each (RFC 6376
	// §5.4.2), the parser reads the first.
	f["replayed-subject.eml"] = crlf(`Authentication-Results: mx.example.net; dkim=pass (2048-bit key; unprotected) header.d=example.org header.i=@example.org header.a=rsa-sha256 header.s=sel header.b=AbCd1234
Subject: [RC-7KQ2M9] code 4F7K-2M9Q
Message-ID: <replay-1@evil.example>
From: Elodie Martin <elodie.martin@example.org>
To: contact@example.net
Subject: Re: mon compte
Date: Fri, 8 Mar 2024 03:00:00 +0000
Message-ID: <genuine-1@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Bonjour, je n'arrive plus a me connecter.
`)

	// Our MX's header with text the sender chose: a quoted envelope
	// sender and an OpenDKIM i= holding results.
	f["injected-auth-results.eml"] = crlf(`Authentication-Results: mx.example.net;
	dkim=pass (1024-bit key; unprotected) header.d=evil.example header.i="x; dkim=pass header.d=example.org z=" header.a=rsa-sha256 header.s=sel header.b=AbCd1234;
	spf=pass smtp.mailfrom="x;dmarc=pass header.from=example.org z="@evil.example;
	dmarc=fail (p=reject dis=reject) header.from=example.org
From: Elodie Martin <elodie.martin@example.org>
To: contact@example.net
Subject: [RC-7KQ2M9] code 4F7K-2M9Q
Date: Fri, 8 Mar 2024 03:00:00 +0000
Message-ID: <forged-2@evil.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

Voici le code.
`)

	f["bounce-of-code-mail.eml"] = crlf(`Return-Path: <>
Authentication-Results: mx.example.net; spf=none smtp.helo=mx.example.org
From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: contact@example.net
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="4Tq8Wz0yXp2mN5/mx.example.org"
Content-Transfer-Encoding: 8bit
Message-Id: <20240308101501.4Tq8Wz0yXp2mN5@mx.example.org>
Date: Fri, 8 Mar 2024 11:15:01 +0100 (CET)

This is a MIME-encapsulated message.

--4Tq8Wz0yXp2mN5/mx.example.org
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mx.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<elodie.martin@example.org>: host mx.example.org[192.0.2.25] said: 550 5.1.1
    <elodie.martin@example.org>: Recipient address rejected: User unknown

--4Tq8Wz0yXp2mN5/mx.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
X-Postfix-Queue-ID: 4Tq8Wz0yXp2mN5
Arrival-Date: Fri,  8 Mar 2024 11:15:00 +0100 (CET)

Final-Recipient: rfc822; elodie.martin@example.org
Original-Recipient: rfc822;elodie.martin@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 5.1.1 <elodie.martin@example.org>: Recipient address
    rejected: User unknown

--4Tq8Wz0yXp2mN5/mx.example.org
Content-Description: Undelivered Message
Content-Type: message/rfc822
Content-Transfer-Encoding: 8bit

From: Support Exemple <contact@example.net>
To: elodie.martin@example.org
Subject: [RC-7KQ2M9] =?UTF-8?Q?D=C3=A9blocage_de_votre_compte?=
Message-ID: <rc-7kq2m9.code.1@recoverybot.example.net>
Auto-Submitted: auto-generated
Date: Fri, 8 Mar 2024 11:14:59 +0100
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

` + ourCodeMail + `

--4Tq8Wz0yXp2mN5/mx.example.org--
`)

	f["out-of-office.eml"] = crlf(`Authentication-Results: mx.example.net; dkim=pass header.d=example.org; dmarc=pass header.from=example.org
From: Elodie Martin <elodie.martin@example.org>
To: Support Exemple <contact@example.net>
Subject: =?utf-8?Q?R=C3=A9ponse_automatique=C2=A0:_[RC-7KQ2M9]_D=C3=A9blocage?=
Date: Fri, 8 Mar 2024 10:15:03 +0000
Message-ID: <ooo-20240308@example.org>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable
MIME-Version: 1.0

` + qp("Je suis absente jusqu’au 18 mars 2024 (retour 9h30 - 10h00).\n") + `
`)

	exe := append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"), make([]byte, 64)...)
	f["hostile-documents.eml"] = crlf(`Authentication-Results: mx.example.net; dkim=pass header.d=example.com; dmarc=pass header.from=example.com
From: Jean Moreau <jean.moreau@example.com>
To: contact@example.net
Subject: Documents RC-9HXW4T
Date: Sat, 9 Mar 2024 12:00:00 +0100
Message-ID: <hostile-1@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="hostile"

--hostile
Content-Type: text/plain; charset=utf-8

Voici mon Kbis, mes statuts et ma carte d'identité.

--hostile
Content-Type: application/pdf; name="kbis.pdf"
Content-Disposition: attachment; filename="kbis.pdf"
Content-Transfer-Encoding: base64

` + b64(testpdf.Build([][]string{{"Extrait Kbis"}}, testpdf.Options{JavaScript: true, EmbeddedFile: true})) + `--hostile
Content-Type: application/pdf; name="statuts.pdf"
Content-Disposition: attachment; filename="statuts.pdf"
Content-Transfer-Encoding: base64

` + b64(testpdf.Build([][]string{{"STATUTS"}}, testpdf.Options{Encrypt: true})) + `--hostile
Content-Type: image/png; name="cni.png"
Content-Disposition: attachment; filename="cni.png"
Content-Transfer-Encoding: base64

` + b64(pngBomb(60000, 60000)) + `--hostile
Content-Type: image/jpeg; name="passeport.jpg"
Content-Disposition: attachment; filename="passeport.jpg"
Content-Transfer-Encoding: base64

` + b64(photo[:len(photo)/3]) + `--hostile
Content-Type: image/jpeg
Content-Disposition: attachment; filename*=utf-8''cni%E2%80%AEgpj.exe
Content-Transfer-Encoding: base64

` + b64(exe) + `--hostile
Content-Type: application/pdf; name="archive.pdf"
Content-Disposition: attachment; filename="archive.pdf"
Content-Transfer-Encoding: base64

` + b64(testpdf.Build(manyPages, testpdf.Options{})) + `--hostile
Content-Type: application/pdf; name="coupe.pdf"
Content-Disposition: attachment; filename="coupe.pdf"
Content-Transfer-Encoding: base64

` + b64(testpdf.Build([][]string{{"Extrait Kbis"}}, testpdf.Options{Truncate: true})) + `--hostile
Content-Type: image/jpeg; name="recto.jpg"
Content-Disposition: attachment; filename="recto.jpg"
Content-Transfer-Encoding: base64

/9j/4AAQSkZJRgABAQ*** not base64 ***
--hostile--
`)

	inner := crlf(`From: Marc Lefevre <marc@exemple-conseil.fr>
To: contact@example.net
Subject: =?iso-8859-1?Q?Pi=E8ces_d'identit=E9?=
Date: Mon, 26 Feb 2024 17:40:00 +0100
Message-ID: <inner-1@exemple-conseil.fr>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="inner"

--inner
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: 8bit

` + cp1252("Voici la pièce d'identité du gérant.") + `

--inner
Content-Type: application/pdf; name="scan0001.pdf"
Content-Disposition: attachment; filename="scan0001.pdf"
Content-Transfer-Encoding: base64

` + b64(passport) + `--inner
Content-Type: application/pdf; name="CNI.pdf"
Content-Disposition: attachment; filename="CNI.pdf"
Content-Transfer-Encoding: base64

` + b64(idCard) + `--inner--
`)
	f["apple-mail-forward-attached.eml"] = crlf(`Authentication-Results: mx.example.net; dkim=pass header.d=exemple-conseil.fr; dmarc=pass header.from=exemple-conseil.fr
From: Marc Lefevre <marc@exemple-conseil.fr>
Content-Type: multipart/mixed;
	boundary="Apple-Mail=_7A6B5C4D-3E2F-4A1B-9C8D-7E6F5A4B3C2D"
Mime-Version: 1.0 (Mac OS X Mail 16.0 \(3774.400.31\))
Subject: =?utf-8?Q?Fwd=3A_Pi=C3=A8ces_d=27identit=C3=A9?=
Date: Sat, 9 Mar 2024 14:03:21 +0100
Message-Id: <9C8B7A6F-5E4D-4C3B-A291-807F6E5D4C3B@exemple-conseil.fr>
To: contact@example.net
X-Mailer: Apple Mail (2.3774.400.31)


--Apple-Mail=_7A6B5C4D-3E2F-4A1B-9C8D-7E6F5A4B3C2D
Content-Transfer-Encoding: quoted-printable
Content-Type: text/plain;
	charset=utf-8

` + qp("Je vous renvoie mon précédent message (RC-9HXW4T).\n\n") + `
--Apple-Mail=_7A6B5C4D-3E2F-4A1B-9C8D-7E6F5A4B3C2D
Content-Disposition: attachment;
	filename="=?utf-8?Q?Pi=C3=A8ces_d=27identit=C3=A9=2Eeml?="
Content-Type: message/rfc822;
	name="=?utf-8?Q?Pi=C3=A8ces_d=27identit=C3=A9=2Eeml?="
Content-Transfer-Encoding: 7bit

` + inner + `
--Apple-Mail=_7A6B5C4D-3E2F-4A1B-9C8D-7E6F5A4B3C2D--
`)

	f["outlook-fr-reply-signature-logo.eml"] = crlf(`Authentication-Results: mx.example.net; dkim=pass header.d=cabinet-durand.fr; spf=pass smtp.mailfrom=cabinet-durand.fr; dmarc=pass header.from=cabinet-durand.fr
From: Claire Durand <c.durand@cabinet-durand.fr>
To: "contact@example.net" <contact@example.net>
Subject: =?iso-8859-1?Q?RE=A0:_[RC-7KQ2M9]_D=E9blocage?=
Date: Sat, 9 Mar 2024 15:20:00 +0000
Message-ID: <AM0PR10MB2345C1D2E3F4A5B6C7D8E9F0A1B2C3D4@AM0PR10MB2345.EURPRD10.PROD.OUTLOOK.COM>
Content-Language: fr-FR
X-MS-Has-Attach: yes
Content-Type: multipart/mixed;
	boundary="_005_AM0PR10MB2345C1D2E3F4A5B6C7D8E9F0A1B2C3D4AM0PR10MB2345EURP_"
MIME-Version: 1.0

--_005_AM0PR10MB2345C1D2E3F4A5B6C7D8E9F0A1B2C3D4AM0PR10MB2345EURP_
Content-Type: multipart/related;
	boundary="_004_AM0PR10MB2345C1D2E3F4A5B6C7D8E9F0A1B2C3D4AM0PR10MB2345EURP_";
	type="multipart/alternative"

--_004_AM0PR10MB2345C1D2E3F4A5B6C7D8E9F0A1B2C3D4AM0PR10MB2345EURP_
Content-Type: multipart/alternative;
	boundary="_000_AM0PR10MB2345C1D2E3F4A5B6C7D8E9F0A1B2C3D4AM0PR10MB2345EURP_"

--_000_AM0PR10MB2345C1D2E3F4A5B6C7D8E9F0A1B2C3D4AM0PR10MB2345EURP_
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

` + qp(cp1252("Bonjour,\n\nCi-joint la copie de ma CNI.\n\nClaire Durand\n[cid:image001.png@01DA7246.1A2B3C40]\n\nDe : Support Exemple <contact@example.net>\nEnvoyé : vendredi 8 mars 2024 10:15\nÀ : Claire Durand <c.durand@cabinet-durand.fr>\nObjet : [RC-7KQ2M9] Déblocage\n\n"+ourCodeMail+"\n")) + `
--_000_AM0PR10MB2345C1D2E3F4A5B6C7D8E9F0A1B2C3D4AM0PR10MB2345EURP_
Content-Type: text/html; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

` + qp(cp1252(`<html><body lang="FR"><div class="WordSection1"><p class="MsoNormal">Bonjour,</p><p class="MsoNormal">Ci-joint la copie de ma CNI.</p><p class="MsoNormal">Claire Durand<br><img width="180" height="60" src="cid:image001.png@01DA7246.1A2B3C40"></p>
<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>De&nbsp;:</b> Support Exemple &lt;contact@example.net&gt;<br><b>Envoyé&nbsp;:</b> vendredi 8 mars 2024 10:15<br><b>À&nbsp;:</b> Claire Durand<br><b>Objet&nbsp;:</b> [RC-7KQ2M9] Déblocage</p></div>
<p class="MsoNormal">`+strings.ReplaceAll(ourCodeMail, "\n", "<br>")+`</p></div></body></html>`)) + `
--_000_AM0PR10MB2345C1D2E3F4A5B6C7D8E9F0A1B2C3D4AM0PR10MB2345EURP_--

--_004_AM0PR10MB2345C1D2E3F4A5B6C7D8E9F0A1B2C3D4AM0PR10MB2345EURP_
Content-Type: image/png; name="image001.png"
Content-Description: image001.png
Content-Disposition: inline; filename="image001.png"; size=2310;
	creation-date="Sat, 09 Mar 2024 15:19:58 GMT";
	modification-date="Sat, 09 Mar 2024 15:19:58 GMT"
Content-ID: <image001.png@01DA7246.1A2B3C40>
Content-Transfer-Encoding: base64

` + b64(logo) + `
--_004_AM0PR10MB2345C1D2E3F4A5B6C7D8E9F0A1B2C3D4AM0PR10MB2345EURP_--

--_005_AM0PR10MB2345C1D2E3F4A5B6C7D8E9F0A1B2C3D4AM0PR10MB2345EURP_
Content-Type: application/pdf; name="Numérisation_20240309.pdf"
Content-Description: =?iso-8859-1?Q?Num=E9risation=5F20240309.pdf?=
Content-Disposition: attachment;
	filename*=iso-8859-1''Num%E9risation_20240309.pdf; size=1532;
	creation-date="Sat, 09 Mar 2024 15:19:40 GMT";
	modification-date="Sat, 09 Mar 2024 15:19:40 GMT"
Content-Transfer-Encoding: base64

` + b64(cniScan) + `
--_005_AM0PR10MB2345C1D2E3F4A5B6C7D8E9F0A1B2C3D4AM0PR10MB2345EURP_--
`)
	return f
}

func TestGenerateFixtures(t *testing.T) {
	if !*genFixtures {
		t.Skip("run with -genfixtures to rewrite testdata/parser/*.eml")
	}
	for name, content := range fixtures() {
		if err := os.WriteFile(filepath.Join("..", "testdata", "parser", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
