#!/usr/bin/python3
"""Writes the image decoder and resize test data, with Debian's python3-pil as the reference.

Run with /usr/bin/python3 (python3-pil, python3-numpy) from this folder. PNG
inputs are written by the small encoder below (so that every bit depth and
colour type exists, including ones PIL cannot write); JPEG inputs by PIL.
Expected pixels are PIL's Image.open(...).convert("RGB") and
.resize(..., Image.BICUBIC), stored raw (.rgb) or as 8-bit RGB PNG.
"""
import io
import json
import os
import struct
import zlib

import numpy as np
from PIL import Image

OUT = os.path.dirname(os.path.abspath(__file__))


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_bytes(width, height, bit_depth, color_type, rows, palette=None, trns=None,
              interlace=False):
    """rows: a list of lists of samples (already per channel), one per row."""
    def pack_row(samples):
        if bit_depth == 16:
            return b"".join(struct.pack(">H", s) for s in samples)
        if bit_depth == 8:
            return bytes(samples)
        per_byte = 8 // bit_depth
        out = bytearray()
        for i in range(0, len(samples), per_byte):
            byte = 0
            group = samples[i:i + per_byte]
            for j, s in enumerate(group):
                byte |= s << (8 - bit_depth * (j + 1))
            out.append(byte)
        return bytes(out)

    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    if interlace:
        # Adam7 passes: (x0, y0, dx, dy)
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                  (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b""
        for x0, y0, dx, dy in passes:
            xs = list(range(x0, width, dx))
            ys = list(range(y0, height, dy))
            if not xs or not ys:
                continue
            for y in ys:
                samples = []
                for x in xs:
                    samples += rows[y][x * channels:(x + 1) * channels]
                raw += b"\0" + pack_row(samples)
    else:
        raw = b"".join(b"\0" + pack_row(r) for r in rows)
    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type,
                                       0, 0, 1 if interlace else 0))
    if palette is not None:
        data += chunk(b"PLTE", bytes(sum(palette, [])))
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += chunk(b"IDAT", zlib.compress(raw, 9))
    data += chunk(b"IEND", b"")
    return data


def pattern(width, height, seed):
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, size=(height, width, 4)).astype(np.int64)


def write_decode_cases(cases):
    w, h = 23, 17
    base = pattern(w, h, 1)
    for bit_depth in (1, 2, 4, 8, 16):
        top = (1 << bit_depth) - 1
        rows = [[int(v) * top // 255 for v in base[y, :, 0]] for y in range(h)]
        cases.append(("gray%d.png" % bit_depth, png_bytes(w, h, bit_depth, 0, rows)))
    for bit_depth in (8, 16):
        top = (1 << bit_depth) - 1
        scale = lambda v: int(v) * top // 255
        ga = [[scale(v) for x in range(w) for v in (base[y, x, 0], base[y, x, 3])]
              for y in range(h)]
        cases.append(("gray_alpha%d.png" % bit_depth, png_bytes(w, h, bit_depth, 4, ga)))
        rgb = [[scale(v) for x in range(w) for v in base[y, x, :3]] for y in range(h)]
        cases.append(("rgb%d.png" % bit_depth, png_bytes(w, h, bit_depth, 2, rgb)))
        rgba = [[scale(v) for x in range(w) for v in base[y, x, :4]] for y in range(h)]
        cases.append(("rgba%d.png" % bit_depth, png_bytes(w, h, bit_depth, 6, rgba)))
    for bit_depth in (1, 2, 4, 8):
        entries = 1 << bit_depth
        palette = [[int(c) for c in pattern(entries, 1, 7 + bit_depth)[0, i, :3]]
                   for i in range(entries)]
        rows = [[int(v) % entries for v in base[y, :, 1]] for y in range(h)]
        cases.append(("palette%d.png" % bit_depth,
                      png_bytes(w, h, bit_depth, 3, rows, palette=palette)))
    palette = [[int(c) for c in pattern(16, 1, 3)[0, i, :3]] for i in range(16)]
    rows = [[int(v) % 16 for v in base[y, :, 2]] for y in range(h)]
    cases.append(("palette4_trns.png", png_bytes(w, h, 4, 3, rows, palette=palette,
                                                 trns=bytes(range(0, 160, 10)))))
    rows = [[int(v) for v in base[y, :, 0]] for y in range(h)]
    cases.append(("gray8_trns.png", png_bytes(w, h, 8, 0, rows, trns=struct.pack(">H", 77))))
    rgb = [[int(v) for x in range(w) for v in base[y, x, :3]] for y in range(h)]
    cases.append(("rgb8_interlaced.png", png_bytes(w, h, 8, 2, rgb, interlace=True)))

    photo = Image.fromarray(smooth_photo(61, 45))
    for name, kwargs, mode in [
        ("rgb420.jpg", dict(quality=90), "RGB"),
        ("rgb444.jpg", dict(quality=95, subsampling=0), "RGB"),
        ("progressive.jpg", dict(quality=85, progressive=True), "RGB"),
        ("gray.jpg", dict(quality=90), "L"),
        ("cmyk.jpg", dict(quality=90), "CMYK"),
    ]:
        buffer = io.BytesIO()
        photo.convert(mode).save(buffer, "JPEG", **kwargs)
        cases.append((name, buffer.getvalue()))


def smooth_photo(width, height):
    y, x = np.mgrid[0:height, 0:width]
    r = 128 + 100 * np.sin(x / 7.0) * np.cos(y / 5.0)
    g = 255 * x / (width - 1)
    b = 255 * ((x + y) % 23) / 22.0
    return np.stack([r, g, b], axis=-1).clip(0, 255).astype(np.uint8)


def resize_source(width, height):
    """The same integer formula is computed by the C++ test."""
    y, x = np.mgrid[0:height, 0:width].astype(np.uint64)
    out = np.zeros((height, width, 3), dtype=np.uint8)
    mask = np.uint64(0xFFFFFFFF)
    for c in range(3):
        h = (x * np.uint64(374761393) + y * np.uint64(668265263) +
             np.uint64(c) * np.uint64(2246822519)) & mask
        h = ((h ^ (h >> np.uint64(13))) * np.uint64(1274126177)) & mask
        noise = (h >> np.uint64(24)) & np.uint64(255)
        if c == 0:
            smooth = x * np.uint64(255) // np.uint64(max(width - 1, 1))
        elif c == 1:
            smooth = y * np.uint64(255) // np.uint64(max(height - 1, 1))
        else:
            smooth = (x + y) * np.uint64(255) // np.uint64(max(width + height - 2, 1))
        block = np.where(((x // np.uint64(7)) + (y // np.uint64(5))) % np.uint64(2) == 1,
                         np.uint64(255), np.uint64(0))
        third = x * np.uint64(3) // np.uint64(width)
        value = np.where(third == 0, smooth, np.where(third == 1, block, noise))
        out[:, :, c] = value.astype(np.uint8)
    return out


RESIZE_CASES = [
    # (source w, h) -> (w, h): what each case covers
    ((640, 480), (224, 224), "downscale by 2.9 x 2.1, non-square source"),
    ((1000, 700), (56, 56), "downscale by large factors (17.9 x 12.5)"),
    ((250, 250), (224, 224), "downscale by a small factor (1.12)"),
    ((37, 23), (224, 224), "upscale (6.1 x 9.7) from odd sizes"),
    ((101, 67), (56, 56), "odd sizes, small downscale"),
    ((50, 300), (56, 56), "upscale in x, downscale in y"),
    ((233, 199), (97, 61), "odd non-square output"),
    ((300, 200), (300, 57), "vertical pass only"),
    ((300, 200), (41, 200), "horizontal pass only"),
    ((224, 224), (224, 224), "same size (a copy)"),
]


def main():
    manifest = {"decode": [], "resize": []}
    cases = []
    write_decode_cases(cases)
    os.makedirs(os.path.join(OUT, "decode"), exist_ok=True)
    for name, data in cases:
        path = os.path.join(OUT, "decode", name)
        with open(path, "wb") as f:
            f.write(data)
        image = Image.open(path)
        mode = image.mode
        if mode in ("I", "I;16", "I;16B"):
            # PIL opens 16-bit grey as 32-bit integers, and convert("RGB")
            # then clips every value above 255 to white. pgc keeps the high
            # byte instead, as PIL itself does for 16-bit RGB, RGBA and LA.
            values = np.asarray(image).astype(np.int64) >> 8
            rgb = np.repeat(values[:, :, None], 3, axis=2).astype(np.uint8)
        else:
            rgb = np.asarray(image.convert("RGB"))
        expected = name + ".rgb"
        with open(os.path.join(OUT, "decode", expected), "wb") as f:
            f.write(rgb.tobytes())
        manifest["decode"].append({"file": "decode/" + name, "pil_mode": mode,
                                   "expected": "decode/" + expected,
                                   "width": rgb.shape[1], "height": rgb.shape[0]})

    os.makedirs(os.path.join(OUT, "resize"), exist_ok=True)
    for (sw, sh), (w, h), what in RESIZE_CASES:
        source = Image.fromarray(resize_source(sw, sh), "RGB")
        resized = source.resize((w, h), Image.BICUBIC)
        name = "resize/%dx%d_to_%dx%d.png" % (sw, sh, w, h)
        resized.save(os.path.join(OUT, name), optimize=True)
        manifest["resize"].append({"source_width": sw, "source_height": sh,
                                   "width": w, "height": h, "expected": name,
                                   "covers": what})
    # The first cases' sources are also stored as files for CLI tests.
    Image.fromarray(resize_source(101, 67), "RGB").save(os.path.join(OUT, "source_101x67.png"))
    Image.fromarray(smooth_photo(61, 45)).save(os.path.join(OUT, "photo_61x45.jpg"), quality=92)

    write_bad_files()
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


def write_bad_files():
    bad = os.path.join(OUT, "bad")
    os.makedirs(bad, exist_ok=True)
    good_png = png_bytes(8, 8, 8, 2, [[(x * 30 + y) % 256 for x in range(24)] for y in range(8)])
    buffer = io.BytesIO()
    Image.fromarray(smooth_photo(61, 45)).save(buffer, "JPEG", quality=90)
    good_jpeg = buffer.getvalue()
    files = {
        "empty.png": b"",
        "truncated.png": good_png[:len(good_png) // 2],
        "no_iend.png": good_png[:-12],
        "bad_crc.png": good_png[:45] + bytes([good_png[45] ^ 0xFF]) + good_png[46:],
        "bad_chunk_type.png": good_png[:40] + bytes([good_png[40] ^ 0xFF]) + good_png[41:],
        "zero_width.png": png_bytes(0, 8, 8, 2, [[] for _ in range(8)]),
        "zero_height.png": png_bytes(8, 0, 8, 2, []),
        "truncated.jpg": good_jpeg[:len(good_jpeg) // 2],
        "header_only.jpg": good_jpeg[:200],
        "garbage_scan.jpg": good_jpeg[:len(good_jpeg) // 2] + bytes(
            (i * 37) % 251 for i in range(len(good_jpeg) // 2 - 2)) + b"\xff\xd9",
        "text.png": b"this is not an image\n",
    }
    for name, data in files.items():
        with open(os.path.join(bad, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
