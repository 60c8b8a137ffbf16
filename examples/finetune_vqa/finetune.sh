#!/usr/bin/env bash
# The seed article's QLoRA VQA fine-tune of PaliGemma-3B-pt-224 as pgc commands (see README.md next to this file).
# Usage: examples/finetune_vqa/finetune.sh MODEL_DIR DATA_DIR [OUTPUT_DIR]
#   MODEL_DIR: the Hugging Face google/paligemma-3b-pt-224 folder (config.json, model*.safetensors[.index.json],
#              tokenizer.model); DATA_DIR: a VQA image folder (train/ and validation/ with metadata.jsonl).
# PGC overrides the pgc executable (default: build/bin/pgc of this checkout); DEVICE=cuda runs the training step on
# the GPU executor (default cpu; evaluation runs on the CPU either way).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if (( $# < 2 )); then
  echo "usage: $0 MODEL_DIR DATA_DIR [OUTPUT_DIR]" >&2
  exit 2
fi
model=$1 data=$2 out=${3:-out/paligemma-vqa}
pgc=${PGC:-$root/build/bin/pgc}
device=${DEVICE:-cpu}
for needed in "$model/config.json" "$model/tokenizer.model"; do
  [[ -f $needed ]] || { echo "$0: $needed: not found (MODEL_DIR must be the Hugging Face model folder)" >&2; exit 1; }
done
mkdir -p "$out"

# Per-device batch 16 x 4 accumulated micro-batches = 64 examples per optimizer step. 256 image tokens + up to 32
# text tokens (<bos>, "answer " + question, "\n", answer, <eos>); pgc run reports the longest example and
# truncates the prompt of longer ones. bf16 compute, transformers' AdamW (optim="adamw_hf").
"$pgc" compile --model paligemma --config "$model/config.json" --policy "$root/policies/seed-qlora.yaml" \
  --dtype bf16 --optim adamw_hf --batch 16 --seq-len 288 --target cpu -o "$out/step.pgc"

# TrainingArguments(num_train_epochs=2, per_device_train_batch_size=16, gradient_accumulation_steps=4,
#   warmup_steps=2, learning_rate=2e-5, weight_decay=1e-6, adam_beta2=0.999, logging_steps=100,
#   save_steps=1000, save_total_limit=1, bf16=True, optim="adamw_hf")
"$pgc" run "$out/step.pgc" --data "$data" --weights "$model" --tokenizer "$model/tokenizer.model" \
  --epochs 2 --grad-accum 4 --lr 2e-5 --lr-scheduler linear --warmup-steps 2 --weight-decay 1e-6 \
  --adam-beta2 0.999 --max-grad-norm 1.0 --logging-steps 100 --save-steps 1000 --save-total-limit 1 \
  --max-new-tokens 8 --device "$device" --output-dir "$out/run"
