#!/usr/bin/env bash
# examples/finetune_vqa is the seed's recipe: its commands (run through a recording stand-in for pgc, as the real
# model and data are not here) carry the seed article's TrainingArguments, and its README's table says the same;
# "Where it runs" names --device cuda. The values below are the seed article's, written out here (not read from the script).
# Usage: finetune-recipe.sh PGC_SOURCE_DIR WORK_DIR
set -u
src=$1 work=$2
rm -rf "$work" && mkdir -p "$work/model" "$work/data"
echo '{}' > "$work/model/config.json" && : > "$work/model/tokenizer.model"
cat > "$work/pgc" <<'SH'
#!/usr/bin/env bash
printf '%s\n' "$*" >> "$(dirname "$0")/calls.txt"
SH
chmod +x "$work/pgc"
PGC=$work/pgc bash "$src/examples/finetune_vqa/finetune.sh" "$work/model" "$work/data" "$work/out" \
  || { echo "FAIL finetune.sh exited $?"; exit 1; }
/usr/bin/python3 - "$work/calls.txt" "$src/examples/finetune_vqa/README.md" <<'PY'
import re, sys
calls = [line.split() for line in open(sys.argv[1])]
readme = open(sys.argv[2]).read()
failures = 0
def expect(ok, what):
    global failures
    print(("ok   " if ok else "FAIL ") + what)
    failures += not ok
def flag(args, name):
    return args[args.index(name) + 1] if name in args else None
compile_args = next(c for c in calls if c[0] == "compile")
run_args = next(c for c in calls if c[0] == "run")
# The seed: per_device_train_batch_size=16, gradient_accumulation_steps=4, num_train_epochs=2, learning_rate=2e-5,
# warmup_steps=2, weight_decay=1e-6, adam_beta2=0.999, bf16=True, optim="adamw_hf", QLoRA policy.
for name, want in (("--batch", "16"), ("--dtype", "bf16"), ("--optim", "adamw_hf")):
    expect(flag(compile_args, name) == want, f"compile {name} {want} (got {flag(compile_args, name)})")
expect(flag(compile_args, "--policy").endswith("policies/seed-qlora.yaml"), "compile --policy seed-qlora.yaml")
for name, want in (("--grad-accum", "4"), ("--epochs", "2"), ("--lr", "2e-5"), ("--warmup-steps", "2"),
                   ("--weight-decay", "1e-6"), ("--adam-beta2", "0.999"), ("--device", "cpu")):
    expect(flag(run_args, name) == want, f"run {name} {want} (got {flag(run_args, name)})")
expect("per_device_train_batch_size=16, gradient_accumulation_steps=4" in readme and "`--batch 16`" in readme,
       "README table: batch 16, accumulation 4")
expect(not re.search(r"per_device_train_batch_size=4\b|--batch 4\b", readme), "README quotes no batch-4 recipe")
where = readme[readme.index("## Where it runs"):]
expect("--device cuda" in where and "next piece of work" not in where, "README: where it runs names --device cuda")
sys.exit(1 if failures else 0)
PY
rc=$?
DEVICE=cuda PGC=$work/pgc bash "$src/examples/finetune_vqa/finetune.sh" "$work/model" "$work/data" "$work/out2" \
  && grep -q -- "--device cuda" <(tail -1 "$work/calls.txt") && echo "ok   DEVICE=cuda reaches pgc run" \
  || { echo "FAIL DEVICE=cuda"; rc=1; }
exit $rc
