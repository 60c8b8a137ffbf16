"""Writes a folder shaped as a user's VQAv2 export from a synth-vqa set: JPEGs of several sizes and aspect ratios,
capitalised questions, `answers` as VQAv2's ten {answer, answer_confidence, answer_id} objects, the columns the seed
drops (question_id, image_id, question_type, answer_type), and some questions far longer than the artifact's sequence.
Only tokenizer.model is copied: no pgc settings file, so pgc's defaults for such a folder are what is exercised.
OUT_DIR/validation-csv holds the same validation rows as metadata.csv, written as pandas' DataFrame.to_csv writes
a VQAv2 frame (csv.QUOTE_MINIMAL, the answers list as JSON in its cell), with a UTF-8 byte order mark and CRLF line
ends as Excel saves it.
Usage: make-vqav2-folder.py SYNTH_DIR OUT_DIR LONG_EVERY"""
import csv
import json
import os
import shutil
import sys

from PIL import Image

synth, out, long_every = sys.argv[1], sys.argv[2], int(sys.argv[3])
sizes = [(40, 30), (16, 16), (57, 91), (120, 64)]
filler = " Please look at the picture carefully and answer with one word, as short as you can" * 3
longest_question = 0
for split in ("train", "validation"):
    os.makedirs(os.path.join(out, split))
    rows = [json.loads(line) for line in open(os.path.join(synth, split, "metadata.jsonl"))]
    with open(os.path.join(out, split, "metadata.jsonl"), "w") as meta:
        for i, row in enumerate(rows):
            width, height = sizes[i % len(sizes)]
            name = "COCO_%s2014_%012d.jpg" % (split, i)
            image = Image.open(os.path.join(synth, split, row["file_name"])).convert("RGB")
            image.resize((width, height), Image.BICUBIC).save(os.path.join(out, split, name), quality=90)
            question = row["question"][0].upper() + row["question"][1:]
            if i % long_every == long_every - 1:
                question += filler
            longest_question = max(longest_question, len(question))
            answers = [a["answer"] for a in row["answers"]]
            meta.write(json.dumps({
                "question_type": "what color is the" if row["question_type"] == "color" else "how many",
                "multiple_choice_answer": row["multiple_choice_answer"],
                "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": k + 1}
                            for k, a in enumerate(answers)],
                "image_id": 100000 + i,
                "answer_type": "number" if row["question_type"] == "count" else "other",
                "question_id": 1000000 + i,
                "question": question,
                "file_name": name,
            }) + "\n")
validation = os.path.join(out, "validation")
os.makedirs(os.path.join(out, "validation-csv"))
rows = [json.loads(line) for line in open(os.path.join(validation, "metadata.jsonl"))]
with open(os.path.join(out, "validation-csv", "metadata.csv"), "w", newline="", encoding="utf-8-sig") as f:
    writer = csv.writer(f, lineterminator="\r\n")
    columns = list(rows[0])
    writer.writerow(columns)
    for row in rows:
        writer.writerow([json.dumps(row[c]) if isinstance(row[c], list) else row[c] for c in columns])
        shutil.copy(os.path.join(validation, row["file_name"]), os.path.join(out, "validation-csv", row["file_name"]))
shutil.copy(os.path.join(synth, "tokenizer.model"), os.path.join(out, "tokenizer.model"))
print("longest question %d characters" % longest_question)
