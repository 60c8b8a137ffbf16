"""Checks that a folder pgc wrote (an export or a run checkpoint) holds only files that Hugging Face reads as what
they are, in the formats transformers' PaliGemmaProcessor.from_pretrained and PaliGemmaForConditionalGeneration
expect: no tokenizer.json unless it is a `tokenizers` file; tokenizer_config.json, special_tokens_map.json and
preprocessor_config.json with the keys and values transformers reads, consistent with config.json (the folder's, or
CONFIG for a checkpoint, which has none) and with pgc's own pgc_data.json.
Usage: check-hf-folder.py FOLDER [CONFIG_JSON]"""
import json
import os
import sys

folder = sys.argv[1]
config_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(folder, "config.json")
files = set(os.listdir(folder))


def load(name):
    with open(os.path.join(folder, name)) as f:
        return json.load(f)


def check(condition, message):
    if not condition:
        sys.exit(f"{folder}: {message}")


# tokenizers.Tokenizer.from_file is what AutoTokenizer calls on this name.
if "tokenizer.json" in files:
    fast = load("tokenizer.json")
    check(isinstance(fast.get("model"), dict) and "type" in fast["model"] and isinstance(fast.get("added_tokens"), list),
          "tokenizer.json is not a tokenizers fast-tokenizer file")
for name in ("tokenizer.model", "pgc_data.json", "tokenizer_config.json", "special_tokens_map.json",
             "preprocessor_config.json"):
    check(name in files, f"no {name}")

# The fields of tokenizers' AddedToken, the only keys transformers passes it.
added_token_keys = {"content", "lstrip", "normalized", "rstrip", "single_word", "special"}
pgc = load("pgc_data.json")
config = json.load(open(config_path))
tok = load("tokenizer_config.json")
check(tok.get("tokenizer_class") == "GemmaTokenizer", f"tokenizer_class {tok.get('tokenizer_class')!r}")
check(tok.get("processor_class") == "PaliGemmaProcessor", "processor_class")
check(tok.get("add_bos_token") is True and tok.get("add_eos_token") is False, "add_bos_token / add_eos_token")
decoder = tok.get("added_tokens_decoder")
check(isinstance(decoder, dict), "added_tokens_decoder is not an object")
by_id = {}
for key, token in decoder.items():
    check(key.isdigit(), f"added_tokens_decoder key {key!r} is not an id")
    check(isinstance(token, dict) and set(token) <= added_token_keys and "content" in token,
          f"added_tokens_decoder[{key}] has keys {sorted(token)}")
    check(token.get("special") is True, f"added_tokens_decoder[{key}] is not special")
    by_id[int(key)] = token["content"]
ids = {"pad_token": pgc["pad_token_id"], "eos_token": pgc["eos_token_id"], "bos_token": pgc["bos_token_id"],
       "unk_token": pgc["unk_token_id"]}
check(set(by_id) == set(ids.values()) | {pgc["image_token_id"]}, f"added token ids {sorted(by_id)}")
check(by_id[pgc["image_token_id"]] == "<image>", "<image> is not at pgc_data.json's image_token_id")
check(config["image_token_index"] == pgc["image_token_id"], "config.json's image_token_index is not <image>'s id")
# The tokenizer's own piece names (a synthetic tokenizer calls bos and eos <s> and </s>), at the right ids.
for role, id in ids.items():
    check(tok.get(role) == by_id[id], f"tokenizer_config.json {role} {tok.get(role)!r} is not id {id}")
check(tok.get("additional_special_tokens") == ["<image>"], "additional_special_tokens")

special = load("special_tokens_map.json")
check(set(special) == {"additional_special_tokens", "bos_token", "eos_token", "pad_token", "unk_token"},
      f"special_tokens_map.json keys {sorted(special)}")
for role, value in special.items():
    for token in value if isinstance(value, list) else [value]:
        check(isinstance(token, dict) and set(token) <= added_token_keys, f"special_tokens_map.json {role}")
check(all(special[role]["content"] == tok[role] for role in ids)
      and special["additional_special_tokens"][0]["content"] == "<image>", "special_tokens_map.json contents")

# SiglipImageProcessor's constructor arguments, and what PaliGemmaProcessor reads from it.
image = load("preprocessor_config.json")
siglip_keys = {"do_resize", "size", "resample", "do_rescale", "rescale_factor", "do_normalize", "image_mean",
               "image_std", "do_convert_rgb", "image_processor_type", "processor_class", "image_seq_length"}
check(set(image) <= siglip_keys, f"preprocessor_config.json has unknown keys {sorted(set(image) - siglip_keys)}")
vision = config["vision_config"]
side = vision["image_size"]
check(image["image_processor_type"] == "SiglipImageProcessor", "image_processor_type")
check(image["size"] == {"height": side, "width": side}, f"size {image['size']}, the model's images are {side} px")
check(image["image_seq_length"] == (side // vision["patch_size"]) ** 2, "image_seq_length")
check(image["resample"] == 3 and image["do_resize"] and image["do_rescale"] and image["do_normalize"], "resampling")
check(abs(image["rescale_factor"] - 1 / 255) < 1e-15, "rescale_factor")
check(image["image_mean"] == [0.5] * 3 and image["image_std"] == [0.5] * 3, "mean / std")

# An exported model folder: transformers must not build SigLIP's pooling head, which PaliGemma lacks.
if os.path.basename(config_path) == "config.json" and os.path.dirname(config_path) == folder:
    check(vision.get("vision_use_head") is False, "config.json's vision_config lacks \"vision_use_head\": false")
