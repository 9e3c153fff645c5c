"""Writing a diffusers SD 1.x-style pipeline as one original-layout `.safetensors` checkpoint.

Community checkpoints ship in the original (CompVis/LDM) layout: one file holding
`model.diffusion_model.*` (UNet), `first_stage_model.*` (VAE) and `cond_stage_model.transformer.*`
(CLIP text encoder). Tests and the benchmark use this writer to make such a file from random
weights, then register and load it the way an operator's download would be. The renaming is
derived from the block structure in the UNet/VAE configs, so it works for any depth and width.
"""

from __future__ import annotations

from pathlib import Path

_RESNET = (("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"),
           ("conv2", "out_layers.3"), ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection"))
_UNET_TOP = {
    "time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
    "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2",
}


def _unet_prefixes(config) -> list[tuple[str, str]]:
    """(diffusers prefix, original prefix) pairs for every block of a UNet2DConditionModel."""
    n, per = len(config.block_out_channels), config.layers_per_block
    pairs: list[tuple[str, str]] = []
    for i in range(n):
        for j in range(per):
            pairs.append((f"down_blocks.{i}.resnets.{j}.", f"input_blocks.{(per + 1) * i + j + 1}.0."))
            pairs.append((f"down_blocks.{i}.attentions.{j}.", f"input_blocks.{(per + 1) * i + j + 1}.1."))
        if i < n - 1:
            pairs.append((f"down_blocks.{i}.downsamplers.0.conv.", f"input_blocks.{(per + 1) * (i + 1)}.0.op."))
        up_has_attention = "CrossAttn" in config.up_block_types[i]
        for j in range(per + 1):
            pairs.append((f"up_blocks.{i}.resnets.{j}.", f"output_blocks.{(per + 1) * i + j}.0."))
            pairs.append((f"up_blocks.{i}.attentions.{j}.", f"output_blocks.{(per + 1) * i + j}.1."))
        if i < n - 1:
            pairs.append((f"up_blocks.{i}.upsamplers.0.",
                          f"output_blocks.{(per + 1) * i + per}.{2 if up_has_attention else 1}."))
    pairs.append(("mid_block.attentions.0.", "middle_block.1."))
    pairs += [(f"mid_block.resnets.{j}.", f"middle_block.{2 * j}.") for j in range(2)]
    return pairs


def unet_to_original(state: dict, config) -> dict:
    pairs = _unet_prefixes(config)
    out = {}
    for key, tensor in state.items():
        module, _, param = key.rpartition(".")
        if module in _UNET_TOP:
            out[f"{_UNET_TOP[module]}.{param}"] = tensor
            continue
        new = key
        for hf, orig in pairs:
            if key.startswith(hf):
                rest = key[len(hf):]
                if ".resnets." in hf:
                    for a, b in _RESNET:
                        if rest.startswith(a + "."):
                            rest = b + rest[len(a):]
                            break
                new = orig + rest
                break
        out[new] = tensor
    return out


def vae_to_original(state: dict, config) -> dict:
    n = len(config.block_out_channels)
    pairs: list[tuple[str, str]] = []
    for i in range(n):
        for j in range(config.layers_per_block):
            pairs.append((f"encoder.down_blocks.{i}.resnets.{j}.", f"encoder.down.{i}.block.{j}."))
        pairs.append((f"encoder.down_blocks.{i}.downsamplers.0.", f"encoder.down.{i}.downsample."))
        for j in range(config.layers_per_block + 1):
            pairs.append((f"decoder.up_blocks.{i}.resnets.{j}.", f"decoder.up.{n - 1 - i}.block.{j}."))
        pairs.append((f"decoder.up_blocks.{i}.upsamplers.0.", f"decoder.up.{n - 1 - i}.upsample."))
    for part in ("encoder", "decoder"):
        pairs += [(f"{part}.mid_block.resnets.{k}.", f"{part}.mid.block_{k + 1}.") for k in range(2)]
        pairs.append((f"{part}.mid_block.attentions.0.", f"{part}.mid.attn_1."))
        pairs.append((f"{part}.conv_norm_out.", f"{part}.norm_out."))
    attention = (("group_norm.", "norm."), ("to_q.", "q."), ("to_k.", "k."), ("to_v.", "v."), ("to_out.0.", "proj_out."))
    out = {}
    for key, tensor in state.items():
        new = key
        for hf, orig in pairs:
            if key.startswith(hf):
                rest = key[len(hf):]
                if hf.endswith("attentions.0."):
                    for a, b in attention:
                        if rest.startswith(a):
                            rest = b + rest[len(a):]
                            break
                    if rest.endswith(".weight") and tensor.ndim == 2:
                        tensor = tensor.reshape(*tensor.shape, 1, 1)  # 1×1 convolutions in the original
                rest = rest.replace("conv_shortcut.", "nin_shortcut.")
                new = orig + rest
                break
        out[new] = tensor
    return out


def original_state_dict(pipe) -> dict:
    """The original-layout tensors of an SD 1.x/2.x-style pipeline with a CLIP (transformers) text encoder."""
    unet = unet_to_original(pipe.unet.state_dict(), pipe.unet.config)
    vae = vae_to_original(pipe.vae.state_dict(), pipe.vae.config)
    # transformers >= 5.6 dropped CLIPTextModel's "text_model." wrapper; the original layout keeps it.
    text = {(k if k.startswith("text_model.") else f"text_model.{k}"): v
            for k, v in pipe.text_encoder.state_dict().items()}
    state = {f"model.diffusion_model.{k}": v for k, v in unet.items()}
    state.update({f"first_stage_model.{k}": v for k, v in vae.items()})
    state.update({f"cond_stage_model.transformer.{k}": v for k, v in text.items()})
    return state


def save_single_file(pipe, path: Path, *, metadata: dict[str, str] | None = None) -> Path:
    """Write the pipeline's UNet, VAE and text encoder as one original-layout .safetensors file."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in original_state_dict(pipe).items()}
    save_file(state, str(path), metadata=metadata or {"format": "pt"})
    return path


def save_component_configs(pipe, directory: Path) -> Path:
    """The configs (no weights) a single file needs beside it: model_index, UNet, VAE, text encoder,
    scheduler and tokenizer, as `<stem>_config/` for architectures Kaleido does not ship."""
    import json

    import diffusers

    directory.mkdir(parents=True, exist_ok=True)
    pipe.unet.save_config(directory / "unet")
    pipe.vae.save_config(directory / "vae")
    pipe.scheduler.save_config(directory / "scheduler")
    pipe.text_encoder.config.save_pretrained(directory / "text_encoder")
    pipe.tokenizer.save_pretrained(str(directory / "tokenizer"))
    index = {
        "_class_name": type(pipe).__name__, "_diffusers_version": diffusers.__version__,
        "unet": ["diffusers", type(pipe.unet).__name__], "vae": ["diffusers", type(pipe.vae).__name__],
        "scheduler": ["diffusers", type(pipe.scheduler).__name__],
        "text_encoder": ["transformers", type(pipe.text_encoder).__name__],
        "tokenizer": ["transformers", type(pipe.tokenizer).__name__],
        "safety_checker": [None, None], "feature_extractor": [None, None], "requires_safety_checker": False,
    }
    (directory / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
    return directory
