#!/usr/bin/env python3
"""Writes Sportello's sample practices and documents (python3 samples/generate.py).

Everything is computed here, with the standard library only, and the output is the same bytes
on every run and every machine: no clock, no randomness, no zlib compression level that could
differ between zlib builds (PNG and ZIP data are stored, not deflated).

    samples/documents/      small real documents (PDF, PNG, JPEG, XML, ZIP) that pass a content
                            check, one large PDF (claim check), a ".pdf" that is really a DOCX
    samples/submissions/    one or more valid submissions per type of shared/catalog.toml, and
                            invalid-<what>.json, each built to fail validation for given reasons
    samples/expected.json   per submission file: valid or not, reason codes, tax code, type,
                            channel, idempotency key
    samples/malformed/      message bodies that are not submissions at all (error-queue tests),
                            described in samples/expected-malformed.json
    samples/integrations/   the citizen's answers to the integration requests the back-office
                            simulator makes (samples/backoffice-sim.toml), naming their practice

Every tax code and VAT number is computed (official check-character tables), every IBAN carries
a computed CIN and ISO 7064 check digits, and every sample is checked against the catalog by a
small re-implementation of the validation rules (`reasons_for`): the generator stops if a
sample's computed reasons differ from the ones it was designed for.
"""

import base64
import datetime
import hashlib
import json
import re
import shutil
import struct
import sys
import tomllib
import uuid
import zipfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
CATALOG_PATH = HERE.parent / "shared" / "catalog.toml"
SIMULATOR_PATH = HERE / "backoffice-sim.toml"

# ════════════════════════════ codice fiscale, partita IVA, IBAN ════════════════════════════

# Value of a character in an odd (1-based) position; digits weigh like the letter in the same
# place of the alphabet (DM 12/03/1974).
_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]
MONTHS = "ABCDEHLMPRST"
OMOCODIA = "LMNPQRSTUV"
# Positions (0-based) holding digits, right to left: the order in which omocodia replaces them.
OMOCODIA_ORDER = [14, 13, 12, 10, 9, 7, 6]
VOWELS = set("AEIOU")


def _ordinal(c):
    return ord(c) - 48 if c.isdigit() else ord(c) - 65


def cf_check_char(first15):
    total = 0
    for i, c in enumerate(first15):
        total += _ODD[_ordinal(c)] if i % 2 == 0 else _ordinal(c)
    return chr(65 + total % 26)


def _letters(text):
    text = "".join(c for c in text.upper() if c.isalpha())
    return [c for c in text if c not in VOWELS], [c for c in text if c in VOWELS]


def _surname_part(surname):
    cons, vows = _letters(surname)
    return "".join(cons + vows + ["X"] * 3)[:3]


def _name_part(name):
    cons, vows = _letters(name)
    if len(cons) >= 4:
        return cons[0] + cons[2] + cons[3]
    return "".join(cons + vows + ["X"] * 3)[:3]


def tax_code(family, given, sex, birth, place, omocodia=0):
    """The codice fiscale; `omocodia` = how many digits the Revenue Agency turned into letters."""
    y, m, d = (int(p) for p in birth.split("-"))
    day = d + (40 if sex == "F" else 0)
    base = list(_surname_part(family) + _name_part(given) + f"{y % 100:02d}" + MONTHS[m - 1] + f"{day:02d}" + place)
    for pos in OMOCODIA_ORDER[:omocodia]:
        base[pos] = OMOCODIA[int(base[pos])]
    first15 = "".join(base)
    return first15 + cf_check_char(first15)


def tax_code_is_valid(code):
    """Mirrors shared/src/domain/tax_code.rs: shape, month, day, check character."""
    code = code.strip().upper()
    if len(code) != 16 or not code.isascii():
        return False
    for i, c in enumerate(code):
        if i in OMOCODIA_ORDER:
            if not (c.isdigit() or c in OMOCODIA):
                return False
        elif not ("A" <= c <= "Z"):
            return False
    if code[8] not in MONTHS:
        return False
    num = lambda c: int(c) if c.isdigit() else OMOCODIA.index(c)
    day = num(code[9]) * 10 + num(code[10])
    if not (1 <= day <= 31 or 41 <= day <= 71):
        return False
    return cf_check_char(code[:15]) == code[15]


def vat_check_digit(first10):
    total = 0
    for i, ch in enumerate(first10):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def vat_number(matricola7, office3):
    first10 = matricola7 + office3
    return first10 + vat_check_digit(first10)


def vat_is_valid(vat):
    return bool(re.fullmatch(r"\d{11}", vat)) and vat_check_digit(vat[:10]) == vat[10]


def italian_iban(abi, cab, account):
    """IT IBAN: CIN (same odd/even tables as the tax code) + ISO 7064 mod 97-10 check digits."""
    bban_tail = abi + cab + account.rjust(12, "0")
    cin = cf_check_char(bban_tail)  # the tables are the tax code's; 22 characters, same rule
    bban = cin + bban_tail
    rearranged = bban + "IT00"
    digits = "".join(str(int(c, 36)) for c in rearranged)
    check = 98 - int(digits) % 97
    return f"IT{check:02d}{bban}"


def iban_is_valid(iban):
    iban = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban):
        return False
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


# ════════════════════════════════════ documents ════════════════════════════════════════════


def zlib_stored(data):
    """A zlib stream of stored (uncompressed) deflate blocks: identical on every zlib build."""
    out = bytearray(b"\x78\x01")
    if not data:
        out += b"\x01\x00\x00\xff\xff"
    i = 0
    while i < len(data):
        chunk = data[i:i + 65535]
        i += len(chunk)
        out.append(1 if i >= len(data) else 0)
        out += struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk
    return bytes(out + struct.pack(">I", zlib.adler32(data) & 0xFFFFFFFF))


def _png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def make_png(width, height, pixel):
    """Truecolour 8-bit PNG; pixel(x, y) -> (r, g, b)."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter: none
        for x in range(width):
            raw += bytes(pixel(x, y))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib_stored(bytes(raw))) + _png_chunk(b"IEND", b""))


_ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
           13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
           52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63]
# ITU-T T.81 Annex K luminance quantisation table, row order.
_QLUM = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
         14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
         49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
# Annex K standard DC luminance Huffman table; the AC table holds only end-of-block (code "0"),
# which is all a DC-only encoder emits.
_DC_BITS, _DC_VALS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], list(range(12))
_AC_BITS, _AC_VALS = [1] + [0] * 15, [0x00]


def _huffman(bits, vals):
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[vals[k]] = (code, length)
            k += 1
            code += 1
        code <<= 1
    return codes


def _segment(marker, body):
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def make_jpeg(width, height, block, components=1):
    """Baseline JFIF written by hand: every 8x8 block is flat (DC coefficient only).

    block(bx, by) -> grey level, or a (Y, Cb, Cr) triple when components == 3."""
    dc, ac = _huffman(_DC_BITS, _DC_VALS), _huffman(_AC_BITS, _AC_VALS)
    out = bytearray(b"\xFF\xD8")
    out += _segment(0xE0, b"JFIF\x00\x01\x01\x01" + struct.pack(">HH", 72, 72) + b"\x00\x00")
    out += _segment(0xDB, b"\x00" + bytes(_QLUM[z] for z in _ZIGZAG))
    comps = b"".join(bytes([i + 1, 0x11, 0]) for i in range(components))
    out += _segment(0xC0, struct.pack(">BHHB", 8, height, width, components) + comps)
    out += _segment(0xC4, b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALS) + b"\x10" + bytes(_AC_BITS) + bytes(_AC_VALS))
    out += _segment(0xDA, bytes([components]) + b"".join(bytes([i + 1, 0]) for i in range(components)) + b"\x00\x3F\x00")
    bits = []

    def put(code, n):
        bits.extend((code >> i) & 1 for i in range(n - 1, -1, -1))

    prev = [0] * components
    for by in range((height + 7) // 8):
        for bx in range((width + 7) // 8):
            value = block(bx, by)
            values = (value,) if components == 1 else value
            for c in range(components):
                q = round((values[c] - 128) / 2)  # DC = 8 * (v - 128), quantised by 16
                diff, prev[c] = q - prev[c], q
                size = abs(diff).bit_length()
                put(*dc[size])
                if size:
                    put(diff if diff > 0 else (diff - 1) & ((1 << size) - 1), size)
                put(*ac[0x00])
    bits.extend([1] * (-len(bits) % 8))
    for i in range(0, len(bits), 8):
        byte = int("".join(map(str, bits[i:i + 8])), 2)
        out.append(byte)
        if byte == 0xFF:
            out.append(0x00)  # byte stuffing
    return bytes(out + b"\xFF\xD9")


def _pdf_string(text):
    out = bytearray(b"(")
    for b in text.encode("cp1252"):
        if b in b"()\\":
            out += b"\\" + bytes([b])
        elif b < 32 or b > 126:
            out += b"\\%03o" % b
        else:
            out.append(b)
    return bytes(out + b")")


def make_pdf(title, lines, image=None):
    """One A4 page, Helvetica (WinAnsi), objects and xref table written by hand, no compression.

    image = (width, height, grey bytes): an uncompressed DeviceGray XObject drawn under the text,
    which is how the large sample gets its size."""
    content = bytearray(b"BT\n/F2 15 Tf\n60 780 Td\n" + _pdf_string(title) + b" Tj\n/F1 10 Tf\n0 -26 Td\n14 TL\n")
    for line in lines:
        content += _pdf_string(line) + b" Tj T*\n"
    content += b"ET\n"
    if image:
        w, h, _ = image
        content += b"q 475 0 0 %d 60 80 cm /Im1 Do Q\n" % (475 * h // w)
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R /F2 6 0 R >>"
        + (b" /XObject << /Im1 7 0 R >>" if image else b"") + b" >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + bytes(content) + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    ]
    if image:
        w, h, pixels = image
        objs.append(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                    b"/BitsPerComponent 8 /Length %d >>\nstream\n" % (w, h, len(pixels)) + pixels + b"\nendstream")
    objs.append(b"<< /Title " + _pdf_string(title) + b" /Producer (Sportello samples/generate.py)"
                b" /CreationDate (D:20260112090000+01'00') >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n" % (len(objs) + 1, len(objs), xref)
    return bytes(out + b"%%EOF\n")


def make_zip(members):
    """A ZIP with stored members and a fixed date: the same bytes everywhere."""
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 12, 9, 0, 0))
            info.create_system = 3
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_STORED
            z.writestr(info, data)
    return buf.getvalue()


def make_docx(paragraph):
    """A minimal Word document (what a citizen's renamed "domanda.pdf" often really is)."""
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/word/document.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
          '</Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="word/document.xml"/></Relationships>')
    doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           f'<w:body><w:p><w:r><w:t>{paragraph}</w:t></w:r></w:p></w:body></w:document>')
    return make_zip([("[Content_Types].xml", ct.encode()), ("_rels/.rels", rels.encode()),
                     ("word/document.xml", doc.encode())])


def sniff(data):
    """Mirrors shared/src/domain/media.rs `sniff` for the formats written here."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"II*\0") or data.startswith(b"MM\0*"):
        return "image/tiff"
    if data.startswith(b"PK\x03\x04"):
        return "application/zip"
    if data.startswith(b"<?xml") or data.startswith(b"\xef\xbb\xbf<?xml"):
        return "application/xml"
    return None


# ═══════════════════════════════════ people ════════════════════════════════════════════════

# key: (given, family, sex, birth date, cadastral code of the birthplace, omocodia level)
PEOPLE = {
    "bonfanti": ("Giulia", "Bonfanti", "F", "1987-03-14", "A794", 0),        # Bergamo
    "locatelli": ("Marco", "Locatelli", "M", "1979-11-02", "A794", 0),
    "pesenti": ("Francesca", "Pesenti", "F", "1992-07-25", "F205", 0),       # Milano
    "rota": ("Luca", "Rota", "M", "1965-01-30", "A794", 0),
    "gritti": ("Chiara", "Gritti", "F", "1990-05-09", "B157", 0),            # Brescia
    "ravasio": ("Alessandro", "Ravasio", "M", "1983-09-17", "A794", 0),
    "carminati": ("Elena", "Carminati", "F", "1958-12-03", "A794", 0),
    "mazzoleni": ("Davide", "Mazzoleni", "M", "1975-04-21", "E507", 0),      # Lecco
    "brembilla": ("Sara", "Brembilla", "F", "2001-02-11", "A794", 0),
    "esposito": ("Giuseppe", "Esposito", "M", "1962-08-06", "F839", 0),      # Napoli
    "elamrani": ("Fatima", "El Amrani", "F", "1994-10-28", "Z330", 0),       # Marocco
    "cortinovis": ("Anna Maria", "Cortinovis", "F", "1949-06-15", "A794", 0),
    "ferrari": ("Paolo", "Ferrari", "M", "1971-03-02", "A944", 0),           # Bologna
    "gamba": ("Matteo", "Gamba", "M", "1988-12-19", "A794", 0),
    "bonacina": ("Stefano", "Bonacina", "M", "1980-01-01", "A794", 2),       # omocodic code
    "zanchi": ("Roberta", "Zanchi", "F", "1996-07-04", "H501", 0),           # Roma
    # not applicants: they appear in the data of someone else's practice
    "cattaneo": ("Silvia", "Cattaneo", "F", "1977-10-10", "A794", 0),        # architect
    "pellegrini": ("Roberto", "Pellegrini", "M", "1969-05-27", "A794", 0),   # surveyor
    "tommaso": ("Tommaso", "Locatelli", "M", "2016-04-12", "A794", 0),       # pupil
    "emma": ("Emma", "Carrara", "F", "2017-09-03", "A794", 0),               # pupil
    "colombo": ("Andrea", "Colombo", "M", "1990-02-14", "F205", 0),          # spouse-to-be
    "pietro": ("Pietro", "Rota", "M", "1936-11-20", "A794", 0),              # assisted person
}


def cf(key):
    given, family, sex, birth, place, omocodia = PEOPLE[key]
    return tax_code(family, given, sex, birth, place, omocodia)


def full_name(key):
    return f"{PEOPLE[key][0]} {PEOPLE[key][1]}"


EMAIL_LOCAL = {"elamrani": "fatima.elamrani", "cortinovis": "annamaria.cortinovis"}
PECS = {"pesenti", "mazzoleni", "ravasio", "ferrari"}


def applicant(key, company=None):
    given, family = PEOPLE[key][0], PEOPLE[key][1]
    local = EMAIL_LOCAL.get(key, f"{given.lower()}.{family.lower()}")
    domain = "example.org" if key in {"pesenti", "gritti", "zanchi", "elamrani"} else "example.it"
    a = {"tax_code": cf(key), "given_name": given, "family_name": family, "email": f"{local}@{domain}"}
    if key in PECS:
        a["pec"] = f"{family.lower().replace(' ', '')}.{given.lower()}@pec.example.it"
    if company:
        a["company"] = dict(company)
    return a


COMPANIES = {
    "ravasio": {"name": "Ravasio Alimentari S.r.l.", "vat_number": vat_number("0345678", "016")},
    "gamba": {"name": "Bar Gamba di Gamba Matteo", "vat_number": vat_number("0419823", "016")},
}

IBAN_ROTA = italian_iban("05034", "11101", "000000123456")
IBAN_ELAMRANI = italian_iban("03069", "11166", "100000004521")

# ═══════════════════════════════ document library ══════════════════════════════════════════

# Sizes are kept small on purpose: the whole samples/ tree stays under 2 MiB even though one
# invalid sample must carry a file just above the catalog's smallest limit (1 MiB).
LARGE_IMAGE = (416, 320)  # grey pixels of the large PDF: 133,120 bytes, twice the inline limit


def _plan_pixels(w, h):
    """A floor plan: walls on a 32-px grid, a door gap, a hatched room; deterministic."""
    rows = []
    for y in range(h):
        row = bytearray()
        for x in range(w):
            wall = (x % 128 < 3 or y % 96 < 3) and not (200 < y % 384 < 230 and x % 128 < 3)
            hatch = 256 <= x < 384 and 96 <= y < 192 and (x + y) % 12 == 0
            row.append(20 if wall else 140 if hatch else 245 - (x * 7 + y * 3) % 9)
        rows.append(bytes(row))
    return b"".join(rows)


def _pdf(title, *lines):
    return make_pdf(title, list(lines) + ["", "Comune di Bergamo - Sportello polifunzionale",
                                          "Documento di esempio generato per i test: non ha valore legale."])


def _photo(seed, w=32, h=24, colour=True):
    if colour:
        return make_jpeg(w, h, lambda bx, by: (70 + (bx * 37 + by * 53 + seed * 11) % 120,
                                               110 + (bx * 13 + seed * 7) % 40, 120 + (by * 17 + seed) % 40), 3)
    return make_jpeg(w, h, lambda bx, by: 60 + (bx * 29 + by * 41 + seed * 19) % 150)


def _card(seed):
    """An identity-card scan as a small PNG: a light card with a darker photo box and text bars."""
    def px(x, y):
        if 1 <= x < 7 and 2 <= y < 10:
            return (90 + seed * 9 % 60, 80, 70)
        if x >= 8 and y % 3 == 1 and x < 19 - (y * seed) % 5:
            return (40, 40, 60)
        return (225 - seed * 3, 232, 240 - seed * 5)
    return make_png(20, 12, px)


XML_RIEPILOGO = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<riepilogo xmlns="urn:example:suap:riepilogo:1">\n'
    '  <pratica tipo="suap.apertura_negozio"/>\n'
    '  <impresa denominazione="Ravasio Alimentari S.r.l." partitaIva="{vat}"/>\n'
    '  <esercizio indirizzo="Via Borgo Palazzo 58, 24125 Bergamo" settore="alimentare" superficieVenditaMq="64.5"/>\n'
    '{padding}'
    '</riepilogo>\n')


def oversized_xml(limit):
    """A SUAP summary XML one byte above `limit`: a product list padded to the exact size."""
    head = XML_RIEPILOGO.split("{padding}")[0].format(vat=COMPANIES["ravasio"]["vat_number"]).encode()
    tail = b"</riepilogo>\n"
    target = limit + 1
    lines, n = [], 1
    size = len(head) + len(tail)
    while True:
        line = f'  <articolo n="{n:06d}" descrizione="Prodotto alimentare confezionato" aliquotaIva="10"/>\n'.encode()
        if size + len(line) > target - 16:
            break
        lines.append(line)
        size += len(line)
        n += 1
    filler = target - size - len(b"<!--  -->\n")
    comment = b"<!-- " + b"x" * filler + b" -->\n"
    data = head + b"".join(lines) + comment + tail
    assert len(data) == target, (len(data), target)
    return data


def build_documents():
    d = {}
    d["carta-identita-bonfanti.jpg"] = _photo(1)
    d["carta-identita-locatelli.jpg"] = _photo(2)
    d["carta-identita-pesenti.png"] = _card(1)
    d["carta-identita-colombo.png"] = _card(2)
    d["carta-identita-rota.jpg"] = _photo(3, colour=False)
    d["carta-identita-gritti.png"] = _card(3)
    d["carta-identita-ravasio.pdf"] = _pdf("Carta d'identità elettronica", "Titolare: Alessandro Ravasio",
                                           "Copia fronte e retro")
    d["carta-identita-carminati.jpg"] = _photo(4)
    d["carta-identita-esposito.jpg"] = _photo(5, colour=False)
    d["permesso-soggiorno-elamrani.png"] = _card(4)
    d["carta-identita-cortinovis.jpg"] = _photo(6)
    d["carta-identita-gamba.png"] = _card(5)
    d["carta-identita-zanchi.jpg"] = _photo(7)
    d["fototessera-cortinovis.jpg"] = make_jpeg(24, 32, lambda bx, by: (150 + by * 10, 120, 140), 3)
    d["contratto-locazione-bonfanti.pdf"] = _pdf("Contratto di locazione ad uso abitativo",
                                                 "Immobile: Via Pignolo 42, 24121 Bergamo",
                                                 "Conduttrice: Giulia Bonfanti - durata 4+4 anni")
    d["documenti-familiari-bonfanti.pdf"] = _pdf("Documenti dei componenti del nucleo familiare",
                                                 "Emma Carrara - carta d'identità n. CA00000AA")
    d["contratto-locazione-elamrani.pdf"] = _pdf("Contratto di locazione registrato",
                                                 "Immobile: Via Quarenghi 17, 24122 Bergamo",
                                                 "Registrato all'Agenzia delle Entrate il 03/02/2025")
    d["delega-rota.pdf"] = _pdf("Delega", "Io sottoscritto Pietro Rota delego mio figlio Luca Rota",
                                "a richiedere l'estratto del mio atto di nascita.")
    d["denuncia-smarrimento-locatelli.pdf"] = _pdf("Denuncia di smarrimento",
                                                   "Smarrimento della tessera elettorale di Marco Locatelli")
    d["ricevute-f24-rota.pdf"] = _pdf("Ricevute di versamento F24 - IMU 2024",
                                      "Acconto 16/06/2024 e saldo 16/12/2024")
    d["modulo-cila-ferrari.pdf"] = _pdf("Comunicazione di inizio lavori asseverata (CILA)",
                                        "Intervento: Via Santa Caterina 31 - rifacimento bagno e cucina")
    d["elaborati-grafici-ferrari.pdf"] = make_pdf(
        "Elaborati grafici - stato di fatto e di progetto",
        ["Via Santa Caterina 31, Bergamo - Foglio 12, particella 88, subalterno 4", "Scala 1:100"],
        image=(LARGE_IMAGE[0], LARGE_IMAGE[1], _plan_pixels(*LARGE_IMAGE)))
    d["relazione-tecnica-ferrari.pdf"] = _pdf("Relazione tecnica asseverata",
                                              "La sottoscritta arch. Silvia Cattaneo assevera la conformità",
                                              "delle opere agli strumenti urbanistici vigenti.")
    d["foto-cantiere-ferrari.jpg"] = _photo(8)
    d["relazione-asseverata-firmata-ferrari.pdf"] = _pdf("Relazione tecnica asseverata (firmata digitalmente)",
                                                         "La sottoscritta arch. Silvia Cattaneo assevera la conformità",
                                                         "delle opere - documento firmato digitalmente.")
    d["ricevuta-diritti-ferrari.pdf"] = _pdf("Ricevuta di versamento dei diritti di segreteria",
                                             "CILA via Santa Caterina 31 - euro 50,00")
    d["modulo-scia-mazzoleni.pdf"] = _pdf("Segnalazione certificata di inizio attività (SCIA)",
                                          "Intervento: Via Previtali 9 - frazionamento di unità immobiliare")
    d["elaborati-mazzoleni.pdf"] = _pdf("Elaborati grafici", "Pianta piano primo - stato di progetto")
    d["relazione-asseverata-mazzoleni.pdf"] = _pdf("Relazione tecnica di asseverazione",
                                                   "Geom. Roberto Pellegrini")
    d["ricevuta-diritti-mazzoleni.png"] = make_png(24, 12, lambda x, y: (250, 250, 250) if y % 4 else (30, 30, 30))
    d["modulo-agibilita-zanchi.pdf"] = _pdf("Segnalazione certificata per l'agibilità",
                                            "Immobile: Via Mascheroni 12, Bergamo")
    d["conformita-impianti-zanchi.pdf"] = _pdf("Dichiarazioni di conformità degli impianti",
                                               "Impianto elettrico e termico (DM 37/2008)")
    d["ricevuta-accatastamento-zanchi.pdf"] = _pdf("Ricevuta di accatastamento", "Procedura DOCFA n. BG0012345")
    d["modulo-scia-ravasio.pdf"] = _pdf("SCIA per l'apertura di un esercizio di vicinato",
                                        "Ravasio Alimentari S.r.l. - Via Borgo Palazzo 58")
    d["planimetria-negozio-ravasio.pdf"] = _pdf("Planimetria dei locali", "Superficie di vendita 64,5 m²")
    d["riepilogo-suap-ravasio.xml"] = XML_RIEPILOGO.format(vat=COMPANIES["ravasio"]["vat_number"], padding="").encode()
    d["modulo-scia-gamba.pdf"] = _pdf("SCIA per l'apertura di un pubblico esercizio",
                                      "Bar Gamba di Gamba Matteo - Piazza Pontida 5")
    d["planimetria-bar-gamba.pdf"] = _pdf("Planimetria del bar", "Superficie di somministrazione 48 m²")
    d["notifica-sanitaria-gamba.pdf"] = _pdf("Notifica ai fini della registrazione (Reg. CE 852/2004)",
                                             "Attività: bar, somministrazione di alimenti e bevande")
    d["progetto-dehors-gamba.pdf"] = _pdf("Progetto del dehors", "Piazza Pontida 5 - pedana 4 x 5 m, fioriere")
    d["foto-piazza-gamba.jpg"] = _photo(9)
    d["attestazione-isee-elamrani.pdf"] = _pdf("Attestazione ISEE ordinario 2026",
                                               "Valore ISEE: 9.850,35 euro")
    d["ricevute-affitto-elamrani.jpg"] = _photo(10, colour=False)
    d["certificazione-sanitaria-rota.pdf"] = _pdf("Certificazione sanitaria",
                                                  "Paziente: Pietro Rota - parziale non autosufficienza")
    d["certificato-dieta-locatelli.pdf"] = _pdf("Certificato medico per dieta speciale",
                                                "Alunno: Tommaso Locatelli - dieta priva di glutine")
    d["carta-circolazione-gritti.pdf"] = _pdf("Carta di circolazione", "Veicolo targato GA482KL")
    d["certificato-medico-cortinovis.pdf"] = _pdf("Certificato medico-legale",
                                                  "ASST Papa Giovanni XXIII - capacità di deambulazione ridotta")
    d["planimetria-passo-mazzoleni.pdf"] = _pdf("Planimetria del passo carrabile", "Via Previtali 9 - accesso 3,50 m")
    d["foto-accesso-mazzoleni.jpg"] = _photo(11)
    d["planimetria-trasloco-bonacina.png"] = make_png(32, 20, lambda x, y: (255, 220, 0) if 8 <= x < 24 and 5 <= y < 15 else (200, 200, 200))
    d["foto-ingombranti-carminati.png"] = make_png(24, 18, lambda x, y: (120 + x * 4, 90 + y * 5, 60))
    d["autorizzazione-sepoltura-esposito.pdf"] = _pdf("Autorizzazione alla sepoltura",
                                                      "Defunta: Carmela Russo, deceduta il 03/01/2026")
    d["programma-zanchi.pdf"] = _pdf("Programma dell'iniziativa", "Incontro pubblico: la città che cambia",
                                     "Ore 20:30 saluti, ore 21:00 interventi, ore 22:30 dibattito")
    d["polizza-rc-gritti.pdf"] = _pdf("Polizza di responsabilità civile", "ASD Pallavolo Borgo Palazzo")
    d["foto-buca-bonacina.jpg"] = _photo(12)
    d["istanza-esposito.pdf"] = _pdf("Istanza al Comune di Bergamo",
                                     "Il sottoscritto Giuseppe Esposito chiede la rettifica",
                                     "dell'indirizzo riportato sull'avviso di pagamento.")
    d["allegati-esposito.zip"] = make_zip([("avviso-pagamento.pdf", _pdf("Avviso di pagamento", "Tassa rifiuti 2025")),
                                           ("nota.txt", "Indirizzo corretto: Via Moroni 145\n".encode())])
    # for the invalid samples
    d["domanda-residenza-el-amrani.pdf"] = make_docx("Domanda di cambio di residenza - Fatima El Amrani")
    d["foto-buca-brembilla.png"] = make_png(16, 12, lambda x, y: (90, 90, 90) if 4 <= x < 12 else (150, 150, 140))
    d["vuoto.pdf"] = b""
    return d


# ═══════════════════════════════════ samples ═══════════════════════════════════════════════

OPERATORS = ["OP-BG-014", "OP-BG-007", "OP-BG-022"]
PORTAL, COUNTER = "portal", "counter"


class Keys:
    def __init__(self):
        self.n = {PORTAL: 100, COUNTER: 40}

    def next(self, channel):
        self.n[channel] += 1
        return f"{channel}-2026-{self.n[channel]:06d}"


def S(practice_type, who, channel, subject, data, docs, company=None, operator=0, reasons=()):
    """A sample spec: docs is a list of (role, library file name[, overrides])."""
    return dict(practice_type=practice_type, who=who, channel=channel, subject=subject, data=data,
                docs=docs, company=company, operator=operator, reasons=sorted(set(reasons)))


VALID = [
    S("anagrafe.cambio_residenza", "bonfanti", PORTAL,
      "Dichiarazione di cambio di residenza da Milano a Bergamo",
      {"indirizzo": "Via Pignolo 42, 24121 Bergamo", "comune_provenienza": "Milano",
       "data_decorrenza": "2026-01-12", "componenti_nucleo": 2},
      [("documento_identita", "carta-identita-bonfanti.jpg"), ("titolo_occupazione", "contratto-locazione-bonfanti.pdf"),
       ("documenti_familiari", "documenti-familiari-bonfanti.pdf")]),
    S("anagrafe.cambio_residenza", "elamrani", COUNTER,
      "Cambio di abitazione all'interno del Comune",
      {"indirizzo": "Via Quarenghi 17, 24122 Bergamo", "comune_provenienza": "Bergamo",
       "data_decorrenza": "2026-02-01", "componenti_nucleo": 4},
      [("documento_identita", "permesso-soggiorno-elamrani.png"),
       ("titolo_occupazione", "contratto-locazione-elamrani.pdf")], operator=0),
    S("anagrafe.certificato_anagrafico", "bonfanti", PORTAL, "Certificato di stato di famiglia",
      {"tipo_certificato": "Stato di famiglia", "uso": "Iscrizione all'asilo nido", "esenzione_bollo": False}, []),
    S("anagrafe.certificato_anagrafico", "esposito", COUNTER, "Certificato di residenza in carta semplice",
      {"tipo_certificato": "Residenza", "uso": "Pratica di successione"}, [], operator=1),
    S("stato_civile.estratto_nascita", "brembilla", PORTAL, "Estratto del mio atto di nascita",
      {"data_nascita": "2001-02-11"}, []),
    S("stato_civile.estratto_nascita", "rota", COUNTER, "Estratto dell'atto di nascita di mio padre Pietro Rota",
      {"data_nascita": "1936-11-20", "codice_fiscale_intestatario": cf("pietro")},
      [("delega", "delega-rota.pdf")], operator=2),
    S("stato_civile.pubblicazioni_matrimonio", "pesenti", PORTAL,
      "Richiesta di pubblicazioni per matrimonio civile con Andrea Colombo",
      {"nome_nubendo": "Andrea Colombo", "codice_fiscale_nubendo": cf("colombo"), "rito": "civile",
       "data_prevista": "2026-06-20"},
      [("documento_identita", "carta-identita-pesenti.png"), ("documento_identita_nubendo", "carta-identita-colombo.png")]),
    S("elettorale.duplicato_tessera", "carminati", COUNTER, "Duplicato della tessera elettorale: spazi esauriti",
      {"motivo": "spazi esauriti"}, [("documento_identita", "carta-identita-carminati.jpg")], operator=0),
    S("elettorale.duplicato_tessera", "locatelli", PORTAL, "Duplicato della tessera elettorale smarrita",
      {"motivo": "smarrimento"},
      [("documento_identita", "carta-identita-locatelli.jpg"), ("denuncia", "denuncia-smarrimento-locatelli.pdf")]),
    S("elettorale.albo_scrutatori", "brembilla", PORTAL, "Iscrizione all'albo degli scrutatori",
      {"titolo_studio": "Diploma di liceo scientifico", "professione": "Studentessa universitaria"}, []),
    S("tributi.iscrizione_tari", "bonfanti", PORTAL, "Dichiarazione TARI per la nuova abitazione di via Pignolo",
      {"indirizzo_immobile": "Via Pignolo 42, 24121 Bergamo",
       "riferimenti_catastali": "Foglio 45, particella 312, subalterno 7", "superficie_mq": 78.5,
       "data_inizio_occupazione": "2026-01-12", "componenti_nucleo": 2},
      [("titolo_occupazione", "contratto-locazione-bonfanti.pdf")]),
    S("tributi.rimborso_imu", "rota", COUNTER, "Rimborso IMU 2024 versata in eccesso",
      {"anno_imposta": 2024, "importo_richiesto": "412,00", "iban": IBAN_ROTA,
       "motivazione": "Versamento in eccesso: l'immobile è abitazione principale"},
      [("documento_identita", "carta-identita-rota.jpg"), ("ricevute_versamento", "ricevute-f24-rota.pdf")], operator=1),
    S("edilizia.cila", "ferrari", PORTAL, "CILA per rifacimento di bagno e cucina in via Santa Caterina 31",
      {"indirizzo_intervento": "Via Santa Caterina 31, 24124 Bergamo",
       "riferimenti_catastali": "Foglio 12, particella 88, subalterno 4",
       "descrizione_intervento": "Manutenzione straordinaria: rifacimento di bagno e cucina, spostamento di tramezzi",
       "data_inizio_lavori": "2026-03-02", "codice_fiscale_tecnico": cf("cattaneo"),
       "pec_tecnico": "studio.cattaneo@pec.example.it"},
      [("modulo_cila", "modulo-cila-ferrari.pdf"), ("elaborati", "elaborati-grafici-ferrari.pdf"),
       ("relazione_tecnica", "relazione-tecnica-ferrari.pdf"),
       ("documentazione_fotografica", "foto-cantiere-ferrari.jpg")]),
    S("edilizia.scia", "mazzoleni", PORTAL, "SCIA per frazionamento di unità immobiliare in via Previtali 9",
      {"indirizzo_intervento": "Via Previtali 9, 24128 Bergamo",
       "riferimenti_catastali": "Foglio 7, particella 1021, subalterno 2",
       "descrizione_intervento": "Frazionamento di un appartamento in due unità abitative",
       "codice_fiscale_tecnico": cf("pellegrini"), "pec_tecnico": "geom.pellegrini@pec.example.it",
       "impresa_esecutrice": "Edil Orobica S.r.l."},
      [("modulo_scia", "modulo-scia-mazzoleni.pdf"), ("elaborati", "elaborati-mazzoleni.pdf"),
       ("relazione_asseverata", "relazione-asseverata-mazzoleni.pdf"),
       ("ricevuta_diritti", "ricevuta-diritti-mazzoleni.png")]),
    S("edilizia.agibilita", "zanchi", COUNTER, "Segnalazione certificata per l'agibilità dell'alloggio di via Mascheroni",
      {"indirizzo_immobile": "Via Mascheroni 12, 24128 Bergamo",
       "riferimenti_catastali": "Foglio 33, particella 540, subalterno 11",
       "titolo_edilizio": "Permesso di costruire n. 118 del 14/05/2024", "data_fine_lavori": "2025-12-18",
       "codice_fiscale_tecnico": cf("pellegrini")},
      [("modulo_agibilita", "modulo-agibilita-zanchi.pdf"), ("certificati_impianti", "conformita-impianti-zanchi.pdf"),
       ("accatastamento", "ricevuta-accatastamento-zanchi.pdf")], operator=2),
    S("suap.apertura_negozio", "ravasio", PORTAL, "SCIA per l'apertura di un negozio di alimentari in via Borgo Palazzo",
      {"indirizzo_esercizio": "Via Borgo Palazzo 58, 24125 Bergamo", "settore_merceologico": "alimentare",
       "superficie_vendita_mq": 64.5, "data_avvio": "2026-04-01"},
      [("modulo_scia", "modulo-scia-ravasio.pdf"), ("planimetria", "planimetria-negozio-ravasio.pdf"),
       ("documento_identita", "carta-identita-ravasio.pdf"), ("modello_xml", "riepilogo-suap-ravasio.xml")],
      company="ravasio"),
    S("suap.somministrazione", "gamba", COUNTER, "SCIA per l'apertura di un bar in piazza Pontida",
      {"indirizzo_esercizio": "Piazza Pontida 5, 24122 Bergamo", "superficie_somministrazione_mq": 48,
       "posti_a_sedere": 30, "data_avvio": "2026-03-15"},
      [("modulo_scia", "modulo-scia-gamba.pdf"), ("planimetria", "planimetria-bar-gamba.pdf"),
       ("notifica_sanitaria", "notifica-sanitaria-gamba.pdf"), ("documento_identita", "carta-identita-gamba.png")],
      company="gamba", operator=0),
    S("sociale.contributo_affitto", "elamrani", COUNTER, "Domanda di contributo per l'affitto 2026",
      {"valore_isee": 9850.35, "canone_mensile": 620.0, "componenti_nucleo": 4, "iban": IBAN_ELAMRANI},
      [("documento_identita", "permesso-soggiorno-elamrani.png"), ("attestazione_isee", "attestazione-isee-elamrani.pdf"),
       ("contratto_locazione", "contratto-locazione-elamrani.pdf"), ("ricevute_affitto", "ricevute-affitto-elamrani.jpg")],
      operator=1),
    S("sociale.assistenza_domiciliare", "rota", PORTAL, "Assistenza domiciliare per mio padre Pietro Rota",
      {"nome_beneficiario": "Pietro Rota", "codice_fiscale_beneficiario": cf("pietro"),
       "indirizzo": "Via Corridoni 40, 24124 Bergamo"},
      [("documento_identita", "carta-identita-rota.jpg"), ("certificazione_sanitaria", "certificazione-sanitaria-rota.pdf")]),
    S("scuola.iscrizione_mensa", "locatelli", PORTAL, "Iscrizione di Tommaso alla mensa scolastica con dieta senza glutine",
      {"nome_alunno": "Tommaso Locatelli", "codice_fiscale_alunno": cf("tommaso"),
       "scuola": "Scuola primaria Rosmini", "classe": "4ª B", "anno_scolastico": "2026/2027", "dieta_speciale": True},
      [("certificato_dieta", "certificato-dieta-locatelli.pdf")]),
    S("scuola.iscrizione_mensa", "bonfanti", COUNTER, "Iscrizione di Emma al servizio mensa",
      {"nome_alunno": "Emma Carrara", "codice_fiscale_alunno": cf("emma"), "scuola": "Scuola primaria Camozzi",
       "classe": "3ª A", "anno_scolastico": "2026/2027", "dieta_speciale": False}, [], operator=2),
    S("scuola.iscrizione_trasporto", "locatelli", PORTAL, "Iscrizione di Tommaso allo scuolabus",
      {"nome_alunno": "Tommaso Locatelli", "codice_fiscale_alunno": cf("tommaso"), "scuola": "Scuola primaria Rosmini",
       "anno_scolastico": "2026/2027", "fermata": "Via Carnovali angolo via Pitentino"}, []),
    S("mobilita.permesso_ztl", "gritti", PORTAL, "Permesso ZTL per residente in Città Alta",
      {"targa": "GA482KL", "categoria_permesso": "residente", "data_inizio": "2026-02-01", "data_fine": "2027-01-31"},
      [("documento_identita", "carta-identita-gritti.png"), ("carta_circolazione", "carta-circolazione-gritti.pdf")]),
    S("mobilita.contrassegno_disabili", "cortinovis", COUNTER, "Rilascio del contrassegno disabili permanente",
      {"tipo_contrassegno": "permanente"},
      [("documento_identita", "carta-identita-cortinovis.jpg"), ("certificato_medico", "certificato-medico-cortinovis.pdf"),
       ("fototessera", "fototessera-cortinovis.jpg")], operator=0),
    S("mobilita.passo_carrabile", "mazzoleni", PORTAL, "Autorizzazione per passo carrabile in via Previtali 9",
      {"indirizzo": "Via Previtali 9, 24128 Bergamo", "larghezza_m": 3.5,
       "riferimenti_catastali": "Foglio 7, particella 1021"},
      [("planimetria", "planimetria-passo-mazzoleni.pdf"), ("documentazione_fotografica", "foto-accesso-mazzoleni.jpg")]),
    S("suolo_pubblico.occupazione", "bonacina", PORTAL, "Occupazione di suolo pubblico per trasloco",
      {"indirizzo": "Via Tasso 80, 24121 Bergamo", "motivo": "trasloco", "superficie_mq": 12,
       "data_inizio": "2026-02-14", "data_fine": "2026-02-14"},
      [("planimetria", "planimetria-trasloco-bonacina.png")]),
    S("suolo_pubblico.dehors", "gamba", COUNTER, "Dehors estivo del bar in piazza Pontida",
      {"indirizzo_esercizio": "Piazza Pontida 5, 24122 Bergamo", "superficie_mq": "20,0",
       "data_inizio": "2026-04-01", "data_fine": "2026-10-31"},
      [("progetto", "progetto-dehors-gamba.pdf"), ("documentazione_fotografica", "foto-piazza-gamba.jpg")],
      company="gamba", operator=1),
    S("ambiente.ritiro_ingombranti", "carminati", COUNTER, "Ritiro di un divano e di un materasso",
      {"indirizzo_ritiro": "Via Moroni 210, 24127 Bergamo",
       "elenco_materiali": "Divano a tre posti, materasso matrimoniale, rete in ferro", "numero_pezzi": 3,
       "data_preferita": "2026-02-20"},
      [("foto", "foto-ingombranti-carminati.png")], operator=2),
    S("ambiente.compostaggio_domestico", "ferrari", PORTAL, "Adesione al compostaggio domestico",
      {"indirizzo": "Via Santa Caterina 31, 24124 Bergamo", "superficie_giardino_mq": 120.0,
       "richiesta_compostiera": True}, []),
    S("cimiteri.concessione_loculo", "esposito", COUNTER, "Concessione di loculo per mia madre Carmela Russo",
      {"cimitero": "Cimitero monumentale di Bergamo", "nome_defunto": "Carmela Russo",
       "data_decesso": "2026-01-03", "durata_anni": 30},
      [("documento_identita", "carta-identita-esposito.jpg"),
       ("autorizzazione_sepoltura", "autorizzazione-sepoltura-esposito.pdf")], operator=0),
    S("cimiteri.lampada_votiva", "cortinovis", PORTAL, "Allacciamento della lampada votiva per mio marito",
      {"cimitero": "Cimitero monumentale di Bergamo", "nome_defunto": "Giovanni Cortinovis",
       "collocazione": "Campo 12, fila 3, numero 27"}, []),
    S("cultura.uso_sale", "zanchi", PORTAL, "Uso della sala civica per un incontro pubblico",
      {"sala": "Sala civica di Borgo Palazzo", "data_evento": "2026-03-19", "orario": "20:30-23:00",
       "partecipanti_previsti": 80, "descrizione_evento": "Incontro pubblico sulla rigenerazione urbana del quartiere"},
      [("programma", "programma-zanchi.pdf")]),
    S("cultura.uso_impianti_sportivi", "gritti", PORTAL, "Uso della palestra comunale per gli allenamenti di pallavolo",
      {"impianto": "Palestra comunale di via Ruggeri", "data_inizio": "2026-09-07", "data_fine": "2027-06-12",
       "fascia_oraria": "Lunedì e giovedì 18:00-20:00", "associazione": "ASD Pallavolo Borgo Palazzo"},
      [("polizza_assicurativa", "polizza-rc-gritti.pdf")]),
    S("lavori_pubblici.segnalazione", "bonacina", PORTAL, "Buca pericolosa in via Borgo Palazzo",
      {"categoria": "strade", "luogo": "Via Borgo Palazzo 130, davanti al civico",
       "descrizione": "Buca profonda circa 15 cm sulla corsia verso il centro, pericolosa per i motocicli"},
      [("foto", "foto-buca-bonacina.jpg")]),
    S("lavori_pubblici.segnalazione", "brembilla", COUNTER, "Lampione spento in via Daste e Spalenga",
      {"categoria": "illuminazione pubblica", "luogo": "Via Daste e Spalenga 14",
       "descrizione": "Il lampione davanti al civico 14 è spento da una settimana"}, [], operator=1),
    S("accesso_atti.foia", "pesenti", PORTAL, "Dati sulla qualità dell'aria rilevati nel 2025",
      {"dati_richiesti": "Medie mensili di PM10 e NO2 delle centraline comunali per l'anno 2025",
       "modalita_ricezione": "PEC"}, []),
    S("accesso_atti.accesso_documentale", "locatelli", COUNTER, "Copia del permesso di costruire del condominio di via Ghislandi",
      {"documenti_richiesti": "Permesso di costruire e varianti del condominio di via Ghislandi 21",
       "motivazione": "Contenzioso con l'impresa costruttrice per vizi dell'immobile", "copia_conforme": True},
      [("documento_identita", "carta-identita-locatelli.jpg")], operator=2),
    S("protocollo.istanza_generica", "esposito", PORTAL, "Rettifica dell'indirizzo sull'avviso TARI",
      {"ufficio_destinatario": "Ufficio tributi"},
      [("istanza", "istanza-esposito.pdf"), ("allegati", "allegati-esposito.zip")]),
    S("protocollo.istanza_generica", "zanchi", COUNTER, "Richiesta di informazioni sui corsi comunali di italiano",
      {}, [], operator=0),
]

# Invalid samples: (file stem, spec, mutation). The mutation edits the finished submission so
# that the contract is still followed (these must become practices and be *rejected*).


def _mut(**changes):
    def apply(sub):
        for path, value in changes.items():
            target = sub
            parts = path.split("__")
            for p in parts[:-1]:
                target = target[p]
            if value is DELETE:
                del target[parts[-1]]
            else:
                target[parts[-1]] = value
    return apply


DELETE = object()
WRONG_CF = cf("bonfanti")[:15] + chr((ord(cf("bonfanti")[15]) - 65 + 1) % 26 + 65)
BAD_VAT = COMPANIES["gamba"]["vat_number"][:10] + str((int(COMPANIES["gamba"]["vat_number"][10]) + 3) % 10)


def _wrong_sha(sub):
    sub["documents"][1]["sha256"] = hashlib.sha256(b"contratto-locazione-versione-precedente").hexdigest()


def _duplicate_first_document(sub):
    sub["documents"].append(dict(sub["documents"][0]))


def _declare_png_as_jpeg(sub):
    sub["documents"][0]["file_name"] = "foto-buca-brembilla.jpg"
    sub["documents"][0]["media_type"] = "image/jpeg"


# A whole letter pasted into the subject: above the 500 characters a register "oggetto" may hold.
LONG_SUBJECT = (
    "Segnalazione relativa ai lampioni di via Daste e Spalenga: da circa tre settimane i lampioni "
    "compresi tra il civico 2 e il civico 30 restano spenti per tutta la notte, la strada è "
    "completamente al buio e i residenti, soprattutto le persone anziane, non si sentono sicuri a "
    "rientrare a piedi dopo il tramonto; la situazione è già stata segnalata a voce al vigile di "
    "quartiere e per telefono al numero verde del gestore dell'illuminazione pubblica senza alcun "
    "risultato, per cui chiedo che il Comune intervenga con urgenza, verifichi lo stato "
    "dell'impianto e mi comunichi per iscritto i tempi previsti per la riparazione dei lampioni.")

INVALID = [
    ("invalid-codice-fiscale", S("anagrafe.certificato_anagrafico", "bonfanti", PORTAL, "Certificato di residenza",
        {"tipo_certificato": "Residenza", "uso": "Uso amministrativo"}, [],
        reasons=["codice_fiscale_non_valido"]), _mut(applicant__tax_code=WRONG_CF)),
    ("invalid-email", S("elettorale.albo_scrutatori", "carminati", PORTAL, "Iscrizione all'albo degli scrutatori",
        {"titolo_studio": "Diploma di ragioneria"}, [], reasons=["email_non_valida"]),
     _mut(applicant__email="elena.carminati(at)example.it")),
    ("invalid-pec", S("accesso_atti.foia", "pesenti", PORTAL, "Delibere della giunta sul verde pubblico",
        {"dati_richiesti": "Delibere di giunta del 2025 sulla manutenzione del verde pubblico"}, [],
        reasons=["pec_non_valida"]), _mut(applicant__pec="francesca.pesenti@pec")),
    ("invalid-nome-mancante", S("ambiente.compostaggio_domestico", "carminati", COUNTER, "Adesione al compostaggio domestico",
        {"indirizzo": "Via Moroni 210, 24127 Bergamo", "superficie_giardino_mq": 35.0, "richiesta_compostiera": False},
        [], operator=1, reasons=["nome_mancante"]), _mut(applicant__family_name="  ")),
    ("invalid-oggetto-vuoto", S("lavori_pubblici.segnalazione", "brembilla", PORTAL, "(subject replaced)",
        {"categoria": "verde", "luogo": "Parco Suardi", "descrizione": "Ramo spezzato sopra il vialetto principale"}, [],
        reasons=["oggetto_mancante"]), _mut(subject="   ")),
    ("invalid-oggetto-troppo-lungo", S("lavori_pubblici.segnalazione", "brembilla", COUNTER, LONG_SUBJECT,
        {"categoria": "illuminazione pubblica", "luogo": "Via Daste e Spalenga", "descrizione": "Lampioni spenti"}, [],
        operator=2, reasons=["oggetto_non_valido"]), None),
    ("invalid-campo-mancante", S("anagrafe.cambio_residenza", "locatelli", PORTAL, "Cambio di indirizzo",
        {"indirizzo": "Via Ghislandi 21, 24125 Bergamo", "comune_provenienza": "Bergamo", "componenti_nucleo": 3},
        [("documento_identita", "carta-identita-locatelli.jpg"), ("titolo_occupazione", "contratto-locazione-bonfanti.pdf")],
        reasons=["campo_mancante"]), None),
    ("invalid-data-non-valida", S("mobilita.permesso_ztl", "gritti", PORTAL, "Permesso ZTL temporaneo",
        {"targa": "GA482KL", "categoria_permesso": "assistenza", "data_inizio": "30/02/2026", "data_fine": "2026-03-31"},
        [("documento_identita", "carta-identita-gritti.png"), ("carta_circolazione", "carta-circolazione-gritti.pdf")],
        reasons=["campo_non_valido"]), None),
    ("invalid-documento-mancante", S("sociale.contributo_affitto", "elamrani", PORTAL, "Contributo affitto 2026",
        {"valore_isee": 9850.35, "canone_mensile": 620.0, "componenti_nucleo": 4, "iban": IBAN_ELAMRANI},
        [("documento_identita", "permesso-soggiorno-elamrani.png"), ("contratto_locazione", "contratto-locazione-elamrani.pdf")],
        reasons=["documento_mancante"]), None),
    ("invalid-pdf-che-e-un-docx", S("anagrafe.cambio_residenza", "elamrani", PORTAL, "Cambio di residenza",
        {"indirizzo": "Via Quarenghi 17, 24122 Bergamo", "comune_provenienza": "Brescia",
         "data_decorrenza": "2026-02-01", "componenti_nucleo": 4},
        [("documento_identita", "permesso-soggiorno-elamrani.png"),
         ("titolo_occupazione", "domanda-residenza-el-amrani.pdf", {"media_type": "application/pdf"})],
        reasons=["tipo_file_non_ammesso", "tipo_file_dichiarato_errato"]), None),
    ("invalid-tipo-dichiarato-errato", S("lavori_pubblici.segnalazione", "brembilla", PORTAL, "Buca in via San Bernardino",
        {"categoria": "strade", "luogo": "Via San Bernardino 77", "descrizione": "Buca vicino al passaggio pedonale"},
        [("foto", "foto-buca-brembilla.png")], reasons=["tipo_file_dichiarato_errato"]), _declare_png_as_jpeg),
    ("invalid-impronta", S("anagrafe.cambio_residenza", "bonfanti", COUNTER, "Cambio di residenza",
        {"indirizzo": "Via Pignolo 42, 24121 Bergamo", "comune_provenienza": "Milano",
         "data_decorrenza": "2026-01-12", "componenti_nucleo": 2},
        [("documento_identita", "carta-identita-bonfanti.jpg"), ("titolo_occupazione", "contratto-locazione-bonfanti.pdf")],
        operator=2, reasons=["impronta_non_corrisponde"]), _wrong_sha),
    ("invalid-file-troppo-grande", S("suap.apertura_negozio", "ravasio", PORTAL, "SCIA apertura negozio di alimentari",
        {"indirizzo_esercizio": "Via Borgo Palazzo 58, 24125 Bergamo", "settore_merceologico": "alimentare",
         "superficie_vendita_mq": 64.5, "data_avvio": "2026-04-01"},
        [("modulo_scia", "modulo-scia-ravasio.pdf"), ("planimetria", "planimetria-negozio-ravasio.pdf"),
         ("documento_identita", "carta-identita-ravasio.pdf"), ("modello_xml", "@oversized-xml")],
        company="ravasio", reasons=["file_troppo_grande"]), None),
    ("invalid-file-vuoto", S("elettorale.duplicato_tessera", "esposito", PORTAL, "Duplicato della tessera elettorale",
        {"motivo": "deterioramento"},
        [("documento_identita", "carta-identita-esposito.jpg"), ("denuncia", "vuoto.pdf")],
        reasons=["file_vuoto"]), None),
    ("invalid-impresa-mancante", S("suap.somministrazione", "gamba", PORTAL, "SCIA apertura bar",
        {"indirizzo_esercizio": "Piazza Pontida 5, 24122 Bergamo", "superficie_somministrazione_mq": 48,
         "posti_a_sedere": 30, "data_avvio": "2026-03-15"},
        [("modulo_scia", "modulo-scia-gamba.pdf"), ("planimetria", "planimetria-bar-gamba.pdf"),
         ("notifica_sanitaria", "notifica-sanitaria-gamba.pdf"), ("documento_identita", "carta-identita-gamba.png")],
        reasons=["impresa_mancante"]), None),
    ("invalid-partita-iva", S("suolo_pubblico.dehors", "gamba", COUNTER, "Dehors invernale del bar",
        {"indirizzo_esercizio": "Piazza Pontida 5, 24122 Bergamo", "superficie_mq": 12.5,
         "data_inizio": "2026-11-01", "data_fine": "2027-03-31"},
        [("progetto", "progetto-dehors-gamba.pdf"), ("documentazione_fotografica", "foto-piazza-gamba.jpg")],
        company="gamba", operator=0, reasons=["partita_iva_non_valida"]),
     _mut(applicant__company__vat_number=BAD_VAT)),
    ("invalid-documento-non-previsto", S("elettorale.duplicato_tessera", "zanchi", PORTAL, "Duplicato della tessera elettorale",
        {"motivo": "furto"},
        [("documento_identita", "carta-identita-zanchi.jpg"), ("certificato_matrimonio", "programma-zanchi.pdf")],
        reasons=["documento_non_previsto"]), None),
    ("invalid-documento-duplicato", S("mobilita.permesso_ztl", "gritti", COUNTER, "Permesso ZTL per lavoro",
        {"targa": "GA482KL", "categoria_permesso": "lavoro", "data_inizio": "2026-03-01", "data_fine": "2026-08-31"},
        [("documento_identita", "carta-identita-gritti.png"), ("carta_circolazione", "carta-circolazione-gritti.pdf")],
        operator=1, reasons=["documento_duplicato"]), _duplicate_first_document),
    ("invalid-piu-motivi", S("tributi.rimborso_imu", "rota", PORTAL, "Rimborso IMU 2023",
        {"anno_imposta": "duemilaventitre", "importo_richiesto": 180.5,
         "motivazione": "Doppio versamento della rata di saldo"},
        [("documento_identita", "carta-identita-rota.jpg")],
        reasons=["email_non_valida", "campo_non_valido", "campo_mancante", "documento_mancante"]),
     _mut(applicant__email="luca.rota@example")),
]

# ═════════════════════════════ the rules, re-implemented ═══════════════════════════════════

EMAIL_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*"
                      r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]*[A-Za-z][A-Za-z0-9-]*$")


def email_ok(s):
    return isinstance(s, str) and bool(EMAIL_RE.match(s.strip(" ")))


def field_ok(kind, v):
    if kind == "text":
        return isinstance(v, str) and len(v.strip()) <= 2000 and not any(
            (ord(c) < 32 and c not in "\t\n\r") or 0x7F <= ord(c) <= 0x9F for c in v)
    if kind == "date":
        if not (isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)):
            return False
        try:
            datetime.date.fromisoformat(v)
            return True
        except ValueError:
            return False
    if kind == "integer":
        if isinstance(v, str):
            return bool(re.fullmatch(r"[-+]?\d{1,18}", v.strip()))
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "decimal":
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return True
        return isinstance(v, str) and bool(re.fullmatch(r"[-+]?\d{1,15}([.,]\d+)?", v.strip()))
    if kind == "boolean":
        return isinstance(v, bool)
    if kind == "email":
        return email_ok(v)
    if kind == "tax_code":
        return isinstance(v, str) and tax_code_is_valid(v)
    if kind == "iban":
        return isinstance(v, str) and iban_is_valid(v)
    raise ValueError(kind)


def _blank(v):
    return v is None or (isinstance(v, str) and not v.strip())


def reasons_for(sub, catalog):
    """What validation should say about a submission, by the catalog's rules (mirrors
    workers/validation/src/rules.rs: every problem is reported, not just the first)."""
    t = catalog.get(sub["practice_type"].strip())
    r = set()
    if t is None:
        r.add("tipo_pratica_sconosciuto")
    a = sub["applicant"]
    if not tax_code_is_valid(a["tax_code"]):
        r.add("codice_fiscale_non_valido")
    names = [a["given_name"], a["family_name"]] + ([a["company"]["name"]] if "company" in a else [])
    if any(_blank(n) for n in names):
        r.add("nome_mancante")
    if not email_ok(a["email"]):
        r.add("email_non_valida")
    if not _blank(a.get("pec")) and not email_ok(a["pec"]):
        r.add("pec_non_valida")
    if "company" in a:
        if not vat_is_valid(a["company"]["vat_number"]):
            r.add("partita_iva_non_valida")
    elif t is not None and t["requires_company"]:
        r.add("impresa_mancante")
    if _blank(sub["subject"]):
        r.add("oggetto_mancante")
    elif len(sub["subject"].strip()) > 500:
        r.add("oggetto_non_valido")
    if t is not None:
        for f in t["fields"]:
            v = sub["data"].get(f["name"])
            if _blank(v):
                if f.get("required", True):
                    r.add("campo_mancante")
            elif not field_ok(f["kind"], v):
                r.add("campo_non_valido")
    specs = {d["role"]: d for d in t["documents"]} if t else {}
    roles = [d["role"].strip() for d in sub["documents"]]
    if len(set(roles)) != len(roles):
        r.add("documento_duplicato")
    for d in sub["documents"]:
        data = base64.b64decode(d["content_base64"])
        spec = specs.get(d["role"].strip())
        if t is not None and spec is None:
            r.add("documento_non_previsto")
        detected = sniff(data)
        if not data:
            r.add("file_vuoto")
        else:
            if spec is not None:
                if detected not in spec["media_types"]:
                    r.add("tipo_file_non_ammesso")
                if len(data) > spec["max_bytes"]:
                    r.add("file_troppo_grande")
            if detected is not None and d["media_type"].split(";")[0].strip().lower() != detected:
                r.add("tipo_file_dichiarato_errato")
        if hashlib.sha256(data).hexdigest() != d["sha256"].strip().lower():
            r.add("impronta_non_corrisponde")
    if t is not None:
        for spec in t["documents"]:
            if spec["required"] and spec["role"] not in roles:
                r.add("documento_mancante")
    return sorted(r)


# ═══════════════════════════════════ writing ═══════════════════════════════════════════════

MEDIA_BY_EXT = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png", "xml": "application/xml",
                "zip": "application/zip"}


# The namespace of practice ids (shared/src/domain/submission.rs): a practice's id is the UUIDv5
# of its idempotency key, so an integration can name a sample practice before it is submitted.
PRACTICE_ID_NAMESPACE = uuid.UUID("5c1e0a7e-2026-4b1d-9c0e-5b0e7a110001")


def practice_id_for(idempotency_key):
    return uuid.uuid5(PRACTICE_ID_NAMESPACE, idempotency_key)


# The citizen's answer to each integration request of the simulator: the application it
# integrates, its subject, and (role, document) — a role of the type, or `integrazione`.
INTEGRATIONS = {
    "edilizia.cila-01-integrazione.json": (
        "edilizia.cila-01.json",
        "Integrazione alla CILA di via Santa Caterina 31: relazione firmata e ricevuta dei diritti",
        [("relazione_tecnica", "relazione-asseverata-firmata-ferrari.pdf"),
         ("integrazione", "ricevuta-diritti-ferrari.pdf")],
    ),
}


def build_submission(spec, key, docs, catalog):
    channel = {"kind": "portal"}
    if spec["channel"] == COUNTER:
        channel = {"kind": "counter", "operator_id": OPERATORS[spec["operator"]]}
    company = COMPANIES[spec["company"]] if spec["company"] else None
    documents = []
    for entry in spec["docs"]:
        role, name = entry[0], entry[1]
        overrides = entry[2] if len(entry) > 2 else {}
        if name == "@oversized-xml":
            limit = next(d["max_bytes"] for d in catalog[spec["practice_type"]]["documents"] if d["role"] == role)
            data, name = oversized_xml(limit), "riepilogo-suap-ravasio-completo.xml"
        else:
            data = docs[name]
        doc = {"role": role, "file_name": name, "media_type": MEDIA_BY_EXT[name.rsplit(".", 1)[1]],
               "sha256": hashlib.sha256(data).hexdigest(), "content_base64": base64.b64encode(data).decode()}
        doc.update(overrides)
        documents.append(doc)
    return {
        "schema_version": 1,
        "idempotency_key": key,
        "channel": channel,
        "practice_type": spec["practice_type"],
        "applicant": applicant(spec["who"], company),
        "subject": spec["subject"],
        "data": spec["data"],
        "documents": documents,
    }


def dump(obj):
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def malformed_messages(valid_example):
    out = {}
    out["non-json.json"] = (b"Domanda di cambio di residenza\nQuesto messaggio non e' JSON.\n",
                           "the body is not JSON", "not JSON")
    v99 = json.loads(json.dumps(valid_example))
    v99["schema_version"] = 99
    v99["idempotency_key"] = "portal-2026-900001"
    out["schema-version-99.json"] = (dump(v99), "a contract version this build does not read", "schema_version 99")
    unknown = json.loads(json.dumps(valid_example))
    unknown["practice_type"] = "anagrafe.carta_identita_cartacea"
    unknown["idempotency_key"] = "portal-2026-900002"
    out["tipo-pratica-sconosciuto.json"] = (dump(unknown), "a practice type the catalog does not have",
                                            "unknown practice type")
    no_applicant = json.loads(json.dumps(valid_example))
    del no_applicant["applicant"]
    no_applicant["idempotency_key"] = "portal-2026-900003"
    out["senza-richiedente.json"] = (dump(no_applicant), "a required key (applicant) is missing", "missing field `applicant`")
    extra = json.loads(json.dumps(valid_example))
    extra["idempotency_key"] = "portal-2026-900004"
    extra["priorita"] = "alta"
    out["campo-sconosciuto.json"] = (dump(extra), "an unknown top-level field (priorita)", "unknown field `priorita`")
    nul = json.loads(json.dumps(valid_example))
    nul["idempotency_key"] = "portal-2026-900005"
    nul["subject"] = "Richiesta\u0000 di certificato"
    out["carattere-nul.json"] = (dump(nul), "a NUL character, which no text column (nor XML) can hold",
                                 "NUL character")
    long_key = json.loads(json.dumps(valid_example))
    long_key["idempotency_key"] = "portal-" + "9" * 4000
    out["chiave-troppo-lunga.json"] = (dump(long_key), "an idempotency key of 4,007 characters",
                                       "idempotency_key")
    as_text = json.loads(json.dumps(valid_example))
    as_text["idempotency_key"] = "portal-2026-900006"
    as_text["applicant"] = as_text["applicant"]["tax_code"]
    out["richiedente-come-testo.json"] = (dump(as_text), "the applicant is a bare tax code, not an object "
                                          "(the reason must not repeat it unmasked)", "invalid type: string")
    nobody = json.loads(json.dumps(valid_example))
    nobody["idempotency_key"] = "counter-2026-900007"
    nobody["channel"] = {"kind": "counter", "operator_id": ""}
    out["operatore-vuoto.json"] = (dump(nobody), "a counter submission that names no operator",
                                   "channel.operator_id")
    long_cf = json.loads(json.dumps(valid_example))
    long_cf["idempotency_key"] = "portal-2026-900008"
    long_cf["applicant"]["tax_code"] = "X" * 4000
    out["codice-fiscale-troppo-lungo.json"] = (dump(long_cf), "a tax code of 4,000 characters",
                                               "4000 characters")
    traversal = json.loads(json.dumps(valid_example))
    traversal["idempotency_key"] = "portal-2026-900009"
    traversal["documents"] = [{
        "role": "documento_identita", "file_name": "documento.pdf", "media_type": "application/pdf",
        "sha256": "0" * 64,
        "staged_key": "staging/../archivio/AOO_BG/PG/2026/0000001/00-istanza.json",
    }]
    out["chiave-staging-fuori-area.json"] = (dump(traversal), "a staged_key that climbs out of the staging "
                                             "area into the archive", "staged_key must start with")
    return out


def simulator_action(spec, catalog, simulator):
    """What the back-office simulator does with a practice: the first matching rule, or complete."""
    kind = catalog[spec["practice_type"]]
    for rule in simulator.get("rule", []):
        if rule.get("back_office", kind["back_office"]) == kind["back_office"] and \
                rule.get("practice_type", spec["practice_type"]) == spec["practice_type"]:
            return rule["action"]
    return "complete"


def demo_outcome(sub, reasons, catalog, simulator):
    """The state a sample ends in after the demo (the citizens answer every integration request)
    and the emails its citizen gets, by notification event (the Message-ID names it)."""
    if reasons:
        return "rejected", ["rejected"]
    action = simulator_action(sub, catalog, simulator)
    if action == "deny":
        return "denied", ["registered", "denied"]
    if action == "integrate":
        return "completed", ["registered", "integration_requested", "completed"]
    if action == "silence":
        # The demo's shortened day lets the term run out: silence is consent for these types.
        if catalog[sub["practice_type"]].get("silence") == "consent":
            return "silent_consent", ["registered", "silent_consent"]
        return "in_progress", ["registered"]
    return "completed", ["registered", "completed"]


def main():
    simulator = tomllib.loads(SIMULATOR_PATH.read_text(encoding="utf-8"))
    raw_catalog = tomllib.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    catalog = {t["code"]: t for t in raw_catalog["type"]}
    docs = build_documents()

    for sub in ("documents", "submissions", "malformed", "integrations"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
    for name, data in sorted(docs.items()):
        write(HERE / "documents" / name, data)

    keys = Keys()
    expected, problems = {}, []
    counters = {}
    for spec in VALID:
        code = spec["practice_type"]
        counters[code] = counters.get(code, 0) + 1
        name = f"{code}-{counters[code]:02d}.json"
        sub = build_submission(spec, keys.next(spec["channel"]), docs, catalog)
        got = reasons_for(sub, catalog)
        if got:
            problems.append(f"{name}: meant to be valid, the rules say {got}")
        write(HERE / "submissions" / name, dump(sub))
        expected[name] = (sub, [])
    for stem, spec, mutation in INVALID:
        name = f"{stem}.json"
        sub = build_submission(spec, keys.next(spec["channel"]), docs, catalog)
        if mutation:
            mutation(sub)
        got = reasons_for(sub, catalog)
        if got != spec["reasons"]:
            problems.append(f"{name}: designed for {spec['reasons']}, the rules say {got}")
        write(HERE / "submissions" / name, dump(sub))
        expected[name] = (sub, spec["reasons"])

    missing = sorted(set(catalog) - {s["practice_type"] for s in VALID})
    if missing:
        problems.append(f"catalog types without a valid sample: {missing}")
    if problems:
        sys.exit("generate.py: " + "\n  ".join(["samples do not match the catalog:"] + problems))

    out = {}
    for name in sorted(expected):
        sub, reasons = expected[name]
        out[name] = {"valid": not reasons, "reasons": reasons, "tax_code": "".join(sub["applicant"]["tax_code"].split()).upper(),
                     "practice_type": sub["practice_type"], "channel": sub["channel"]["kind"],
                     "idempotency_key": sub["idempotency_key"]}
        state, emails = demo_outcome(sub, reasons, catalog, simulator)
        # An address that is not one gets nothing: its email ends failed_permanent.
        unreachable = "email_non_valida" in reasons
        out[name]["demo"] = {"state": state, "emails": [] if unreachable else emails,
                             "undeliverable": emails if unreachable else []}

    for name, (stem, subject, documents) in INTEGRATIONS.items():
        application = expected[stem][0]
        answer = {
            "schema_version": 1,
            "idempotency_key": application["idempotency_key"] + "-integrazione-1",
            "channel": application["channel"],
            "practice_type": application["practice_type"],
            "applicant": application["applicant"],
            "subject": subject,
            "documents": [
                {"role": role, "file_name": file, "media_type": MEDIA_BY_EXT[file.rsplit(".", 1)[1]],
                 "sha256": hashlib.sha256(docs[file]).hexdigest(),
                 "content_base64": base64.b64encode(docs[file]).decode()}
                for role, file in documents
            ],
            "integrates": str(practice_id_for(application["idempotency_key"])),
        }
        write(HERE / "integrations" / name, dump(answer))
        # The answer is a practice of its own: registered (a receipt), then sent to the office
        # with the practice it integrates, where it stays.
        out[stem]["demo"]["integration"] = {"file": name, "idempotency_key": answer["idempotency_key"],
                                            "state": "dispatched", "emails": ["registered"]}
    write(HERE / "expected.json", dump(out))

    valid_example = json.loads(dump(expected["anagrafe.certificato_anagrafico-01.json"][0]))
    index = {}
    for name, (data, why, contains) in malformed_messages(valid_example).items():
        write(HERE / "malformed" / name, data)
        index[name] = {"refused_because": why, "error_contains": contains}
    write(HERE / "expected-malformed.json", dump(index))

    n_invalid = sum(1 for v in out.values() if not v["valid"])
    print(f"samples: {len(docs)} documents, {len(out) - n_invalid} valid and {n_invalid} invalid submissions, "
          f"{len(index)} malformed messages, {len(catalog)} catalog types covered")


if __name__ == "__main__":
    main()
