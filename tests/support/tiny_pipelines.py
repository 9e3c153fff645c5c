"""Tiny randomly initialised Stable Diffusion pipelines and LoRAs, built in code.

Tests and the benchmark use these to exercise the real registration and loading path
without downloading anything: the components are saved to disk as safetensors and then
registered and loaded exactly like a real checkpoint.
"""

from __future__ import annotations

from pathlib import Path

# Byte-level BPE needs every byte as a symbol; CLIP marks word ends with "</w>".
_SPECIALS = ["<|startoftext|>", "<|endoftext|>"]
_WORDS = ["a", "banner", "gold", "coin", "flat", "clay", "style", "photo", "of", "the", "savings", "plan"]


def _byte_symbols() -> list[str]:
    from tokenizers.pre_tokenizers import ByteLevel

    return sorted(ByteLevel.alphabet())


def tiny_tokenizer(save_dir: Path | None = None):
    """A CLIP tokenizer with a few hundred tokens: every byte, its word-final form, a few words."""
    from transformers import CLIPTokenizer

    symbols = _byte_symbols()
    vocab: dict[str, int] = {}
    for token in _SPECIALS + symbols + [s + "</w>" for s in symbols]:
        vocab.setdefault(token, len(vocab))
    merges: list[tuple[str, str]] = []
    for word in _WORDS:
        # Merge left to right so the whole word becomes one token.
        current = word[0]
        for i, ch in enumerate(word[1:], start=1):
            nxt = ch + ("</w>" if i == len(word) - 1 else "")
            merges.append((current, nxt))
            current = current + nxt
            vocab.setdefault(current, len(vocab))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges)
    tokenizer.model_max_length = 77
    if save_dir is not None:
        tokenizer.save_pretrained(str(save_dir))
    return tokenizer


def tiny_pipeline(*, seed: int = 0, sample_size: int = 32, channels: tuple[int, int] = (32, 64),
                  cross_attention_dim: int = 32):
    """A StableDiffusionPipeline with random weights small enough to run in a test on one CPU core."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=channels,
        layers_per_block=1,
        sample_size=sample_size // 2,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        block_out_channels=list(channels),
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=sample_size,
    )
    tokenizer = tiny_tokenizer()
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=cross_attention_dim, intermediate_size=37,
            num_attention_heads=4, num_hidden_layers=2, vocab_size=len(tokenizer), max_position_embeddings=77,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
        set_alpha_to_one=False, steps_offset=1,
    )
    return StableDiffusionPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )


def save_tiny_pipeline(directory: Path, *, seed: int = 0, **kwargs) -> Path:
    """Save a tiny pipeline as a diffusers folder with safetensors weights only."""
    pipe = tiny_pipeline(seed=seed, **kwargs)
    pipe.save_pretrained(str(directory), safe_serialization=True)
    return directory


def save_tiny_lora(path: Path, *, pipeline=None, rank: int = 4, seed: int = 1, scale: float = 0.5) -> Path:
    """Train-free LoRA: peft adapters with random non-zero weights on the UNet attention, saved as safetensors."""
    import torch
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig, get_peft_model_state_dict

    pipe = pipeline if pipeline is not None else tiny_pipeline()
    unet = pipe.unet
    config = LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian",
                        target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    unet.add_adapter(config, adapter_name="export")
    torch.manual_seed(seed)
    with torch.no_grad():
        # peft initialises lora_B to zero (a no-op adapter); give it weights so it visibly changes images.
        for name, param in unet.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, scale)
    state = get_peft_model_state_dict(unet, adapter_name="export")
    unet.delete_adapters("export")
    path.parent.mkdir(parents=True, exist_ok=True)
    StableDiffusionPipeline.save_lora_weights(
        save_directory=str(path.parent), unet_lora_layers=state, weight_name=path.name, safe_serialization=True
    )
    return path


def save_tiny_controlnet(path: Path, *, pipeline=None, seed: int = 5) -> Path:
    """A ControlNet initialised from the tiny UNet (random conditioning weights), as one safetensors file.

    Its conditioning embedding downsamples by 2, like the tiny VAE, so control images are at pixel size."""
    import torch
    from diffusers import ControlNetModel
    from safetensors.torch import save_file

    pipe = pipeline if pipeline is not None else tiny_pipeline()
    torch.manual_seed(seed)
    controlnet = ControlNetModel.from_unet(pipe.unet, conditioning_embedding_out_channels=(16, 32))
    with torch.no_grad():  # zero-initialised outputs would make it a no-op: give them weights
        for name, param in controlnet.named_parameters():
            if "zero_conv" in name or "controlnet_down_blocks" in name or "controlnet_mid_block" in name:
                param.normal_(0.0, 0.2)
    path.parent.mkdir(parents=True, exist_ok=True)
    controlnet.save_config(path.with_name(f"{path.stem}_config"))
    save_file({k: v.contiguous() for k, v in controlnet.state_dict().items()}, str(path))
    return path


def save_tiny_ip_adapter(path: Path, *, pipeline=None, seed: int = 6, image_embed_dim: int = 16,
                         scale: float = 0.5) -> tuple[Path, Path]:
    """A random IP-Adapter for the tiny UNet, in the layout IP-Adapter releases ship (one safetensors file of
    `image_proj.*` and `ip_adapter.<n>.to_k_ip/to_v_ip` tensors, n = 1, 3, 5 … per cross-attention layer),
    and a tiny random CLIP image encoder folder beside it (`image_encoder/`). Returns (file, encoder folder)."""
    import torch
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    pipe = pipeline if pipeline is not None else tiny_pipeline()
    unet = pipe.unet
    cross = unet.config.cross_attention_dim
    generator = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return (torch.randn(*shape, generator=generator) * scale).contiguous()

    tensors = {"image_proj.proj.weight": rand(cross * 4, image_embed_dim), "image_proj.proj.bias": rand(cross * 4),
               "image_proj.norm.weight": torch.ones(cross), "image_proj.norm.bias": torch.zeros(cross)}
    key_id = 1
    for name, module in unet.named_modules():
        if name.endswith("attn2") and hasattr(module, "to_k"):
            hidden = module.to_k.out_features
            tensors[f"ip_adapter.{key_id}.to_k_ip.weight"] = rand(hidden, cross)
            tensors[f"ip_adapter.{key_id}.to_v_ip.weight"] = rand(hidden, cross)
            key_id += 2
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))
    torch.manual_seed(seed)
    encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, image_size=32,
        patch_size=8, projection_dim=image_embed_dim))
    encoder_dir = path.parent / "image_encoder"
    encoder.save_pretrained(str(encoder_dir), safe_serialization=True)
    return path, encoder_dir


def save_tiny_sdxl_pipeline(directory: Path, *, seed: int = 0) -> Path:
    """A StableDiffusionXLPipeline with random weights (two text encoders, size/crop conditioning), saved as a
    diffusers folder with safetensors only: the SDXL code path at test size."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=6 * 8 + 32, cross_attention_dim=64, norm_num_groups=8,
    )
    vae = AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        norm_num_groups=8, sample_size=32)
    tokenizer = tiny_tokenizer()
    config = dict(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37,
                  num_attention_heads=4, num_hidden_layers=2, vocab_size=len(tokenizer), max_position_embeddings=77,
                  projection_dim=32)
    pipe = StableDiffusionXLPipeline(
        unet=unet, vae=vae, text_encoder=CLIPTextModel(CLIPTextConfig(**config)), tokenizer=tokenizer,
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**config)), tokenizer_2=tiny_tokenizer(),
        scheduler=EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                         steps_offset=1),
    )
    pipe.save_pretrained(str(directory), safe_serialization=True)
    return directory


def save_tiny_clip(directory: Path, *, seed: int = 7) -> Path:
    """A CLIPModel with random weights (text and vision towers a few layers wide) and its CLIPProcessor (the tiny
    tokenizer, 32 px images), saved as transformers saves a CLIP folder: safetensors weights, no pickles."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    text = dict(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37,
                num_attention_heads=4, num_hidden_layers=2, vocab_size=len(tokenizer), max_position_embeddings=77)
    vision = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, image_size=32,
                  patch_size=8)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).eval()
    processor = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                 crop_size={"height": 32, "width": 32}),
                              tokenizer=tokenizer)
    model.save_pretrained(str(directory), safe_serialization=True)
    processor.save_pretrained(str(directory))
    return directory
