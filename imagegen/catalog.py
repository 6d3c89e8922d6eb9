"""The Bedrock image models we support and what each can do.

Facts (sizes, limits, ranges, prices) come from AWS's Bedrock model parameter pages and the
Bedrock pricing page (on-demand, us-east-1); docs/models.md lists the sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

TEXT_TO_IMAGE = "text_to_image"
IMAGE_TO_IMAGE = "image_to_image"
INPAINT = "inpaint"
OUTPAINT = "outpaint"
VARIATION = "variation"
REMOVE_BACKGROUND = "remove_background"
# The Stability AI Image Services' own tasks; an upscale's mode names the service.
UPSCALE = "upscale"
SEARCH_REPLACE = "search_replace"
SEARCH_RECOLOR = "search_recolor"
ERASE = "erase"
CONTROL_SKETCH = "control_sketch"
CONTROL_STRUCTURE = "control_structure"
STYLE_GUIDE = "style_guide"
STYLE_TRANSFER = "style_transfer"
EDIT_TASKS = (
    IMAGE_TO_IMAGE, INPAINT, OUTPAINT, VARIATION, REMOVE_BACKGROUND,
    UPSCALE, SEARCH_REPLACE, SEARCH_RECOLOR, ERASE, CONTROL_SKETCH, CONTROL_STRUCTURE,
    STYLE_GUIDE, STYLE_TRANSFER,
)  # fmt: skip
UPSCALE_MODES = ("fast", "conservative", "creative")

# Seed 004's sizes, as (width, height).
SEED_SIZES: dict[str, tuple[int, int]] = {
    "1024x1024": (1024, 1024),
    "1792x1024": (1792, 1024),
    "1024x1792": (1024, 1792),
}

SDXL_SIZES = (
    (1024, 1024), (1152, 896), (1216, 832), (1344, 768), (1536, 640),
    (640, 1536), (768, 1344), (832, 1216), (896, 1152),
)  # fmt: skip

TITAN_SIZES = (
    (1024, 1024), (768, 768), (512, 512), (768, 1152), (384, 576), (1152, 768), (576, 384),
    (768, 1280), (384, 640), (1280, 768), (640, 384), (896, 1152), (448, 576), (1152, 896),
    (576, 448), (768, 1408), (384, 704), (1408, 768), (704, 384), (640, 1408), (320, 704),
    (1408, 640), (704, 320), (1152, 640), (1173, 640),
)  # fmt: skip

# Stability's v2 models (SD3.5, Stable Image Core/Ultra) take an aspect ratio, not pixels.
STABILITY_ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "16:9": (1344, 768),
    "21:9": (1536, 640),
    "2:3": (832, 1216),
    "3:2": (1216, 832),
    "4:5": (896, 1088),
    "5:4": (1088, 896),
    "9:16": (768, 1344),
    "9:21": (640, 1536),
}

SDXL_STYLE_PRESETS = (
    "3d-model", "analog-film", "anime", "cinematic", "comic-book", "digital-art", "enhance",
    "fantasy-art", "isometric", "line-art", "low-poly", "modeling-compound", "neon-punk",
    "origami", "photographic", "pixel-art", "tile-texture",
)  # fmt: skip

NOVA_STYLES = (
    "3D_ANIMATED_FAMILY_FILM", "DESIGN_SKETCH", "FLAT_VECTOR_ILLUSTRATION",
    "GRAPHIC_NOVEL_ILLUSTRATION", "MAXIMALISM", "MIDCENTURY_RETRO", "PHOTOREALISM",
    "SOFT_DIGITAL_PAINTING",
)  # fmt: skip


@dataclass(frozen=True)
class NovaSizeRule:
    """Nova Canvas takes any size within these bounds instead of a fixed list."""

    min_side: int = 320
    max_side: int = 4096
    multiple: int = 16
    max_pixels: int = 4_194_304
    max_ratio: float = 4.0

    def allows(self, width: int, height: int) -> bool:
        return (
            self.min_side <= width <= self.max_side
            and self.min_side <= height <= self.max_side
            and width % self.multiple == 0
            and height % self.multiple == 0
            and width * height <= self.max_pixels
            and max(width, height) / min(width, height) <= self.max_ratio
        )

    def describe(self) -> str:
        return (
            f"each side {self.min_side}-{self.max_side} px in multiples of {self.multiple}, "
            f"at most {self.max_pixels} pixels, aspect ratio between 1:4 and 4:1"
        )


@dataclass(frozen=True)
class InputRule:
    """What an image service takes as its input image; the output is made from it."""

    min_side: int
    max_side: int | None
    min_pixels: int
    max_pixels: int
    max_ratio: float | None  # longer side / shorter side

    def problem(self, width: int, height: int) -> str | None:
        """Why width x height is refused, or None."""
        sides = f"{self.min_side}-{self.max_side}" if self.max_side else f"at least {self.min_side}"
        if min(width, height) < self.min_side or (
            self.max_side is not None and max(width, height) > self.max_side
        ):
            return f"each side must be {sides} px"
        if not self.min_pixels <= width * height <= self.max_pixels:
            return f"the pixel count must be {self.min_pixels}-{self.max_pixels}"
        if self.max_ratio is not None and max(width, height) / min(width, height) > self.max_ratio:
            return f"the aspect ratio must be between 1:{self.max_ratio} and {self.max_ratio}:1"
        return None

    def describe(self) -> str:
        sides = f"{self.min_side}-{self.max_side}" if self.max_side else f"at least {self.min_side}"
        ratio = (
            f", aspect ratio between 1:{self.max_ratio} and {self.max_ratio}:1"
            if self.max_ratio
            else ""
        )
        return f"input: each side {sides} px, {self.min_pixels}-{self.max_pixels} pixels{ratio}"


@dataclass(frozen=True)
class PriceTier:
    """USD per image up to max_pixels (None: no upper bound)."""

    max_pixels: int | None
    standard_usd: float
    premium_usd: float


@dataclass(frozen=True)
class ModelSpec:
    model_id: str
    name: str
    family: str  # stability-sdxl | stability-v2 | stability-services | titan | nova: the builder
    tasks: tuple[str, ...]
    max_images_per_call: int
    max_prompt_chars: int
    max_negative_prompt_chars: int
    seed_max: int
    price_tiers: tuple[PriceTier, ...]
    fixed_sizes: tuple[tuple[int, int], ...] = ()
    size_rule: NovaSizeRule | None = None
    cfg_scale_range: tuple[float, float] | None = None
    steps_range: tuple[int, int] | None = None
    style_presets: tuple[str, ...] = ()
    # The preset that the seed's style "natural" maps to, where the model has one.
    natural_style_preset: str | None = None
    # How the seed's quality "hd" is honoured by this model.
    hd_quality: str = "not supported: the model has one quality level"
    # Editing: whether a text prompt can name the mask region, how many reference images a
    # variation takes, and whether the variation's similarity to them can be set.
    mask_prompt: bool = False
    max_reference_images: int = 0
    similarity_strength: bool = False
    # Stability's image services (family stability-services): the input image's rule, every
    # body field AWS's page lists for the service and those it requires, the upscale mode the
    # service is, its creativity range, and the factor its output grows by per side where
    # the page gives one.
    input_rule: InputRule | None = None
    body_fields: tuple[str, ...] = ()
    required_fields: tuple[str, ...] = ()
    upscale_mode: str | None = None
    creativity_range: tuple[float, float] | None = None
    upscale_factor: int | None = None
    # The AWS regions the model is offered in, the first its home (docs/models.md,
    # "Regions"); empty: not recorded, so it is called in AWS_REGION.
    regions: tuple[str, ...] = ()
    # The geographies of its cross-region inference profiles ("us": us.<model_id>).
    inference_profiles: tuple[str, ...] = ()

    def allows_size(self, width: int, height: int) -> bool:
        if self.size_rule is not None:
            return self.size_rule.allows(width, height)
        return (width, height) in self.fixed_sizes

    def allowed_sizes(self) -> list[str]:
        return [f"{w}x{h}" for w, h in self.fixed_sizes]

    def size_for(self, width: int, height: int) -> tuple[int, int]:
        """The supported size closest in aspect ratio to the one asked for (then the largest)."""
        if self.allows_size(width, height):
            return width, height
        wanted = width / height
        return min(self.fixed_sizes, key=lambda s: (abs(s[0] / s[1] - wanted), -s[0] * s[1]))

    def aspect_ratio_for(self, width: int, height: int) -> str | None:
        """For aspect-ratio models: the ratio name whose output size is width x height."""
        for ratio, size in STABILITY_ASPECT_RATIOS.items():
            if size == (width, height):
                return ratio
        return None

    def price_per_image(self, width: int, height: int, premium: bool) -> float:
        for tier in self.price_tiers:
            if tier.max_pixels is None or width * height <= tier.max_pixels:
                return tier.premium_usd if premium else tier.standard_usd
        raise ValueError(f"no price tier for {width}x{height} on {self.model_id}")

    def describe(self) -> dict[str, Any]:
        """The model as GET /v1/models shows it."""
        sizes: dict[str, Any] = {"seed_sizes": {}}
        for name, (w, h) in SEED_SIZES.items() if self.fixed_sizes else ():
            rw, rh = self.size_for(w, h)
            sizes["seed_sizes"][name] = f"{rw}x{rh}"
        if self.input_rule is not None:
            sizes["rule"] = self.input_rule.describe()
        elif self.size_rule is not None:
            sizes["rule"] = self.size_rule.describe()
        else:
            sizes["allowed"] = self.allowed_sizes()
        if self.family == "stability-v2":
            sizes["aspect_ratios"] = {
                r: f"{w}x{h}" for r, (w, h) in STABILITY_ASPECT_RATIOS.items()
            }
        return {
            "model_id": self.model_id,
            "name": self.name,
            "provider": self.model_id.split(".", 1)[0],
            "tasks": list(self.tasks),
            "sizes": sizes,
            "max_images_per_call": self.max_images_per_call,
            "prompt": {
                "max_chars": self.max_prompt_chars,
                "negative_prompt_max_chars": self.max_negative_prompt_chars,
            },
            "seed": {"min": 0, "max": self.seed_max},
            "cfg_scale": (
                {"min": self.cfg_scale_range[0], "max": self.cfg_scale_range[1]}
                if self.cfg_scale_range
                else None
            ),
            "steps": (
                {"min": self.steps_range[0], "max": self.steps_range[1]}
                if self.steps_range
                else None
            ),
            "style_presets": list(self.style_presets),
            "quality": {"hd": self.hd_quality},
            "editing": {
                "mask_prompt": self.mask_prompt,
                "max_reference_images": self.max_reference_images,
                "similarity_strength": self.similarity_strength,
                "upscale_mode": self.upscale_mode,
                "creativity": (
                    {"min": self.creativity_range[0], "max": self.creativity_range[1]}
                    if self.creativity_range
                    else None
                ),
            },
            "pricing": [
                {
                    "max_pixels": t.max_pixels,
                    "standard_usd": t.standard_usd,
                    "hd_usd": t.premium_usd,
                }
                for t in self.price_tiers
            ],
        }


# Stability AI Image Services, from AWS's page "Stability AI Image Services"
# (docs/models.md cites it per field). Prices: not readable on AWS's pricing page here,
# taken from a third-party transcription of it, so unverified (docs/models.md).
_EDIT_INPUT = InputRule(64, None, 0, 9_437_184, 2.5)
# Control Sketch and Control Structure list the same fields.
_CONTROL_FIELDS = (
    "prompt", "image", "control_strength", "negative_prompt", "seed", "output_format",
    "style_preset",
)  # fmt: skip


# Every service alike: AWS's services page calls each from us-east-1 by its "us." profile
# id, and the inference-profile page lists each "us." profile's source and destination
# regions as us-east-1, us-east-2 and us-west-2 (docs/models.md, "Regions").
_SERVICE_REGIONS = ("us-east-1", "us-east-2", "us-west-2")


def _stability_service(*, price_usd: float, **facts: Any) -> ModelSpec:
    """One image service: one image per call, 10,000-character prompts, seeds to 2^32 - 2,
    offered in the US regions of its us. inference profile."""
    return ModelSpec(
        family="stability-services",
        max_images_per_call=1,
        max_prompt_chars=10000,
        max_negative_prompt_chars=10000,
        seed_max=4_294_967_294,
        price_tiers=(PriceTier(None, price_usd, price_usd),),
        regions=_SERVICE_REGIONS,
        inference_profiles=("us",),
        **facts,
    )


MODELS: dict[str, ModelSpec] = {
    spec.model_id: spec
    for spec in (
        ModelSpec(
            model_id="stability.stable-diffusion-xl-v1",
            name="Stable Diffusion XL 1.0",
            regions=("us-west-2",),
            family="stability-sdxl",
            # Outpainting is masking on a larger canvas: SDXL has no separate mode for it.
            tasks=(TEXT_TO_IMAGE, IMAGE_TO_IMAGE, INPAINT, OUTPAINT),
            max_images_per_call=1,
            max_prompt_chars=2000,
            max_negative_prompt_chars=2000,
            seed_max=4_294_967_295,
            fixed_sizes=SDXL_SIZES,
            cfg_scale_range=(0.0, 35.0),
            steps_range=(10, 150),
            style_presets=SDXL_STYLE_PRESETS,
            natural_style_preset="photographic",
            # Bedrock bills SDXL by steps: up to 50 is standard, more is premium.
            price_tiers=(PriceTier(None, 0.04, 0.08),),
            hd_quality="50 diffusion steps instead of 30 (same price; over 50 steps costs 0.08)",
        ),
        ModelSpec(
            model_id="stability.sd3-5-large-v1:0",
            name="Stable Diffusion 3.5 Large",
            regions=("us-west-2",),
            inference_profiles=("us",),
            family="stability-v2",
            tasks=(TEXT_TO_IMAGE, IMAGE_TO_IMAGE),
            max_images_per_call=1,
            max_prompt_chars=10000,
            max_negative_prompt_chars=10000,
            seed_max=4_294_967_294,
            fixed_sizes=tuple(STABILITY_ASPECT_RATIOS.values()),
            price_tiers=(PriceTier(None, 0.08, 0.08),),
        ),
        ModelSpec(
            model_id="stability.stable-image-core-v1:1",
            name="Stable Image Core 1.1",
            regions=("us-west-2",),
            inference_profiles=("us",),
            family="stability-v2",
            tasks=(TEXT_TO_IMAGE,),
            max_images_per_call=1,
            max_prompt_chars=10000,
            max_negative_prompt_chars=10000,
            seed_max=4_294_967_295,
            fixed_sizes=tuple(STABILITY_ASPECT_RATIOS.values()),
            # AWS's Stable Image Core page lists no style_preset (Stability's own API has one).
            price_tiers=(PriceTier(None, 0.04, 0.04),),
        ),
        ModelSpec(
            model_id="stability.stable-image-ultra-v1:1",
            name="Stable Image Ultra 1.1",
            regions=("us-west-2",),
            inference_profiles=("us",),
            family="stability-v2",
            tasks=(TEXT_TO_IMAGE,),
            max_images_per_call=1,
            max_prompt_chars=10000,
            max_negative_prompt_chars=10000,
            seed_max=4_294_967_295,
            fixed_sizes=tuple(STABILITY_ASPECT_RATIOS.values()),
            price_tiers=(PriceTier(None, 0.14, 0.14),),
        ),
        ModelSpec(
            model_id="amazon.titan-image-generator-v1",
            name="Amazon Titan Image Generator G1",
            regions=("us-east-1", "us-west-2", "ap-south-1", "eu-west-1", "eu-west-2"),
            family="titan",
            tasks=(TEXT_TO_IMAGE, INPAINT, OUTPAINT, VARIATION),
            mask_prompt=True,
            max_reference_images=1,
            max_images_per_call=5,
            max_prompt_chars=512,
            max_negative_prompt_chars=512,
            seed_max=2_147_483_646,
            fixed_sizes=TITAN_SIZES,
            cfg_scale_range=(1.1, 10.0),
            price_tiers=(PriceTier(512 * 512, 0.008, 0.01), PriceTier(None, 0.01, 0.012)),
            hd_quality="quality 'premium'",
        ),
        ModelSpec(
            model_id="amazon.titan-image-generator-v2:0",
            name="Amazon Titan Image Generator G1 v2",
            regions=("us-east-1",),
            family="titan",
            tasks=(TEXT_TO_IMAGE, INPAINT, OUTPAINT, VARIATION, REMOVE_BACKGROUND),
            mask_prompt=True,
            max_reference_images=5,
            similarity_strength=True,
            max_images_per_call=5,
            max_prompt_chars=512,
            max_negative_prompt_chars=512,
            seed_max=2_147_483_646,
            fixed_sizes=TITAN_SIZES,
            cfg_scale_range=(1.1, 10.0),
            price_tiers=(PriceTier(512 * 512, 0.008, 0.01), PriceTier(None, 0.01, 0.012)),
            hd_quality="quality 'premium'",
        ),
        ModelSpec(
            model_id="amazon.nova-canvas-v1:0",
            name="Amazon Nova Canvas",
            regions=("us-east-1", "ap-northeast-1", "eu-west-1"),
            family="nova",
            tasks=(TEXT_TO_IMAGE, INPAINT, OUTPAINT, VARIATION, REMOVE_BACKGROUND),
            mask_prompt=True,
            max_reference_images=5,
            similarity_strength=True,
            max_images_per_call=5,
            max_prompt_chars=1024,
            max_negative_prompt_chars=1024,
            seed_max=858_993_459,
            size_rule=NovaSizeRule(),
            fixed_sizes=((1024, 1024), (1792, 1024), (1024, 1792), (512, 512), (2048, 2048)),
            cfg_scale_range=(1.1, 10.0),
            style_presets=NOVA_STYLES,
            natural_style_preset="PHOTOREALISM",
            price_tiers=(
                PriceTier(1024 * 1024, 0.04, 0.06),
                PriceTier(2048 * 2048, 0.06, 0.08),
            ),
            hd_quality="quality 'premium'",
        ),
        _stability_service(
            model_id="stability.stable-fast-upscale-v1:0",
            name="Stable Image Fast Upscale",
            tasks=(UPSCALE,),
            upscale_mode="fast",
            upscale_factor=4,
            input_rule=InputRule(32, 1536, 1024, 1_048_576, None),
            body_fields=("image", "output_format"),
            required_fields=("image", "output_format"),
            price_usd=0.03,
        ),
        _stability_service(
            model_id="stability.stable-conservative-upscale-v1:0",
            name="Stable Image Conservative Upscale",
            tasks=(UPSCALE,),
            upscale_mode="conservative",
            creativity_range=(0.1, 0.5),
            input_rule=_EDIT_INPUT,
            body_fields=(
                "prompt",
                "image",
                "creativity",
                "negative_prompt",
                "seed",
                "output_format",
            ),
            required_fields=("prompt", "image"),
            price_usd=0.40,
        ),
        _stability_service(
            model_id="stability.stable-creative-upscale-v1:0",
            name="Stable Image Creative Upscale",
            tasks=(UPSCALE,),
            upscale_mode="creative",
            creativity_range=(0.1, 0.5),
            style_presets=SDXL_STYLE_PRESETS,
            input_rule=InputRule(64, None, 4096, 1_048_576, None),
            body_fields=(
                "prompt",
                "image",
                "creativity",
                "negative_prompt",
                "seed",
                "output_format",
                "style_preset",
            ),
            required_fields=("prompt", "image"),
            price_usd=0.60,
        ),
        _stability_service(
            model_id="stability.stable-image-remove-background-v1:0",
            name="Stable Image Remove Background",
            tasks=(REMOVE_BACKGROUND,),
            input_rule=_EDIT_INPUT,
            body_fields=("image", "output_format"),
            required_fields=("image",),
            price_usd=0.07,
        ),
        _stability_service(
            model_id="stability.stable-image-search-replace-v1:0",
            name="Stable Image Search and Replace",
            tasks=(SEARCH_REPLACE,),
            style_presets=SDXL_STYLE_PRESETS,
            input_rule=_EDIT_INPUT,
            body_fields=(
                "prompt",
                "image",
                "search_prompt",
                "style_preset",
                "negative_prompt",
                "seed",
                "output_format",
                "grow_mask",
            ),
            required_fields=("prompt", "image", "search_prompt"),
            price_usd=0.07,
        ),
        _stability_service(
            model_id="stability.stable-image-search-recolor-v1:0",
            name="Stable Image Search and Recolor",
            tasks=(SEARCH_RECOLOR,),
            style_presets=SDXL_STYLE_PRESETS,
            input_rule=_EDIT_INPUT,
            body_fields=(
                "prompt",
                "image",
                "select_prompt",
                "style_preset",
                "negative_prompt",
                "seed",
                "output_format",
                "grow_mask",
            ),
            required_fields=("prompt", "image", "select_prompt"),
            price_usd=0.07,
        ),
        _stability_service(
            model_id="stability.stable-image-erase-object-v1:0",
            name="Stable Image Erase Object",
            tasks=(ERASE,),
            input_rule=_EDIT_INPUT,
            body_fields=("image", "seed", "output_format", "mask", "grow_mask"),
            required_fields=("image",),
            price_usd=0.07,
        ),
        *(
            _stability_service(
                model_id=model_id,
                name=name,
                tasks=(task,),
                style_presets=SDXL_STYLE_PRESETS,
                input_rule=_EDIT_INPUT,
                body_fields=_CONTROL_FIELDS,
                required_fields=("prompt", "image"),
                price_usd=0.07,
            )
            for model_id, name, task in (
                (
                    "stability.stable-image-control-sketch-v1:0",
                    "Stable Image Control Sketch",
                    CONTROL_SKETCH,
                ),
                (
                    "stability.stable-image-control-structure-v1:0",
                    "Stable Image Control Structure",
                    CONTROL_STRUCTURE,
                ),
            )
        ),
        _stability_service(
            model_id="stability.stable-image-style-guide-v1:0",
            name="Stable Image Style Guide",
            tasks=(STYLE_GUIDE,),
            style_presets=SDXL_STYLE_PRESETS,
            input_rule=_EDIT_INPUT,
            body_fields=(
                "prompt",
                "image",
                "aspect_ratio",
                "negative_prompt",
                "seed",
                "output_format",
                "fidelity",
                "style_preset",
            ),
            required_fields=("prompt", "image"),
            price_usd=0.07,
        ),
        _stability_service(
            model_id="stability.stable-style-transfer-v1:0",
            name="Stable Image Style Transfer",
            tasks=(STYLE_TRANSFER,),
            input_rule=_EDIT_INPUT,
            body_fields=(
                "init_image",
                "style_image",
                "prompt",
                "negative_prompt",
                "seed",
                "output_format",
                "composition_fidelity",
                "style_strength",
                "change_strength",
            ),
            required_fields=("init_image", "style_image"),
            price_usd=0.08,
        ),
    )
}

# Bedrock's lifecycle states. The control plane reports only ACTIVE and LEGACY: a model past
# its end-of-life date is EOL whatever it says (imagegen.model_lifecycle).
ACTIVE = "ACTIVE"
LEGACY = "LEGACY"
EOL = "EOL"
LIFECYCLE_STATUSES = (ACTIVE, LEGACY, EOL)


@dataclass(frozen=True)
class Lifecycle:
    """Where a model is in Bedrock's lifecycle, and the model of this catalogue to move to."""

    status: str
    legacy_since: date | None = None
    end_of_life: date | None = None
    successor: str | None = None


# The built-in table, from AWS's model cards and lifecycle pages as read on 2026-12-04;
# docs/models.md ("Lifecycle") cites each row and says where the sources are silent. It is
# the fallback when the control plane cannot be asked, and it alone knows the dates.
LIFECYCLE: dict[str, Lifecycle] = {
    # Listed as replaced; no Bedrock EOL date found, so EOL is the conservative reading.
    "stability.stable-diffusion-xl-v1": Lifecycle(EOL, successor="stability.sd3-5-large-v1:0"),
    "stability.sd3-5-large-v1:0": Lifecycle(ACTIVE),
    "stability.stable-image-core-v1:1": Lifecycle(ACTIVE),
    "stability.stable-image-ultra-v1:1": Lifecycle(ACTIVE),
    # The image services' model cards say "Model lifecycle: Active", "Model EOL date: N/A".
    **{
        model_id: Lifecycle(ACTIVE)
        for model_id in (
            "stability.stable-fast-upscale-v1:0",
            "stability.stable-conservative-upscale-v1:0",
            "stability.stable-creative-upscale-v1:0",
            "stability.stable-image-remove-background-v1:0",
            "stability.stable-image-search-replace-v1:0",
            "stability.stable-image-search-recolor-v1:0",
            "stability.stable-image-erase-object-v1:0",
            "stability.stable-image-control-sketch-v1:0",
            "stability.stable-image-control-structure-v1:0",
            "stability.stable-image-style-guide-v1:0",
            "stability.stable-style-transfer-v1:0",
        )
    },
    # v1 is older than v2 and no page lists it as offered; EOL, date unknown.
    "amazon.titan-image-generator-v1": Lifecycle(EOL, successor="stability.stable-image-core-v1:1"),
    "amazon.titan-image-generator-v2:0": Lifecycle(
        EOL, end_of_life=date(2026, 6, 30), successor="stability.stable-image-core-v1:1"
    ),
    "amazon.nova-canvas-v1:0": Lifecycle(
        EOL,
        legacy_since=date(2026, 3, 30),
        end_of_life=date(2026, 9, 30),
        successor="stability.stable-image-core-v1:1",
    ),
}

# The seed names a model Bedrock does not have; it asks for the fast, cheap tier.
ALIASES: dict[str, str] = {"stability.stable-diffusion-v1-5": "stability.stable-image-core-v1:1"}


def resolve(model_id: str) -> tuple[ModelSpec | None, str | None]:
    """The spec for a model id or alias, and a note when an alias was used."""
    if model_id in ALIASES:
        target = ALIASES[model_id]
        note = (
            f"{model_id} is not available on Amazon Bedrock; "
            f"it is an alias of {target}, the fast, low-cost tier"
        )
        return MODELS[target], note
    return MODELS.get(model_id), None


def upscale_model(mode: str) -> str | None:
    """The model id of the upscale service of this mode (fast | conservative | creative)."""
    return next((m.model_id for m in MODELS.values() if m.upscale_mode == mode), None)


def models_for(task: str) -> list[str]:
    """The ids of the models that can do a task, in catalogue order."""
    return [spec.model_id for spec in MODELS.values() if task in spec.tasks]
