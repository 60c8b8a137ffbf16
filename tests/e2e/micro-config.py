"""Writes the micro PaliGemma config of the e2e tests (16 px images, 8 px patches: 4 image tokens; widths 16/32,
one layer per tower) whose vocabulary and <image> id are those of a synth-vqa pgc_data.json.
Usage: micro-config.py TOKENIZER_JSON OUT_CONFIG_JSON"""
import json
import sys

tok = json.load(open(sys.argv[1]))
config = {"image_token_index": tok["image_token_id"], "projection_dim": 32,
          "vision_config": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                            "num_attention_heads": 2, "image_size": 16, "patch_size": 8},
          "text_config": {"vocab_size": tok["model_vocab_size"], "hidden_size": 32, "intermediate_size": 64,
                          "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
                          "head_dim": 16}}
json.dump(config, open(sys.argv[2], "w"))
