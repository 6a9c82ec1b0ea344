"""Settings of a fit: what to spend (Budget) and how to optimise (FitConfig).

FitConfig.paper() is the Image-GS method (Zhang et al. 2025, sec. 4.1, and
its public code cfgs/default.yaml):
  learning rates (position, value, inverse scale, rotation) = (5e-4, 5e-3, 2e-3, 2e-3)
  with positions in image-normalised [0, 1] units and inverse scales in
  1/texel; initial scale 5 texels, rotation 0; lambda_init = 0.3; loss
  L1 + 0.1 (1 - SSIM); K = 10; start with N/2 Gaussians and add N/8 every 500
  steps, sampled by the error map; after the last addition, divide the
  learning rates by 10 when PSNR has not improved by 0.1 dB for 1000 steps,
  and stop at the second plateau.
FitConfig() keeps its initialisation and progressive addition and changes
what measured better at 0.06 bppc (docs/benchmarks.md "Fitting"): an L2 loss
(what PSNR measures; no SSIM term, which also made steps 4x slower), 4x the
shape learning rates, initial Gaussians twice as wide, 5-bit values, a shorter coarse-to-fine schedule with
quantisation-aware training, a coverage term for texels no Gaussian reaches, and value palettes for
the channel groups and the single-channel maps, refined after k-means.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..constants import MAX_K
from ..errors import ConfigError

#: Names accepted for FitConfig.quant, each a texgs.format.QuantConfig constructor.
QUANT_PRESETS = ("fixed", "fp16")
#: FitConfig.backend: the renderer backend, which also sets the fit's device
#: (auto = cuda when it can run, else cpu, else reference; texgs.fit.device).
BACKENDS = ("auto", "reference", "cpu", "cuda")


@dataclass(frozen=True)
class Budget:
    """What the fit may spend: exactly one of bppc, gaussians, target_psnr.

    bppc: bits per pixel per channel of the packed file (8 * bytes / (W H C));
    gaussians: a Gaussian count; target_psnr: dB over all channels, the fit
    grows the Gaussian count until the quantised result reaches it
    (capped at max_bppc).
    """

    bppc: float | None = None
    gaussians: int | None = None
    target_psnr: float | None = None
    max_bppc: float = 1.0

    def __post_init__(self):
        given = [n for n in ("bppc", "gaussians", "target_psnr") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ConfigError(f"give exactly one of bppc, gaussians, target_psnr (got {given or 'none'})")
        if self.bppc is not None and not 0.0 < self.bppc <= 64.0:
            raise ConfigError(f"bppc must be in (0, 64], got {self.bppc}")
        if self.gaussians is not None and self.gaussians < 1:
            raise ConfigError(f"gaussians must be at least 1, got {self.gaussians}")
        if self.target_psnr is not None and not 5.0 <= self.target_psnr <= 80.0:
            raise ConfigError(f"target_psnr must be in [5, 80] dB, got {self.target_psnr}")
        if not 0.0 < self.max_bppc <= 64.0:
            raise ConfigError(f"max_bppc must be in (0, 64], got {self.max_bppc}")


@dataclass(frozen=True)
class FitConfig:
    """How to fit. Every field is documented; FitConfig.validate() names bad ones."""

    seed: int = 0  # seeds every random choice (torch.Generator)
    k: int = 10  # top-K Gaussians blended per texel
    # Step schedule.
    # Maximum optimisation steps over all pyramid levels; 0 = automatic
    # (schedule.fit_steps: 500 from 1024^2 texels up, more for smaller fits).
    steps: int = 0
    pyramid: tuple[int, ...] = (4, 2, 1)  # coarse-to-fine downscale factors, last = 1
    pyramid_steps: tuple[float, ...] = (0.45, 0.35, 0.2)  # fraction of steps at each level
    # Image-GS initialisation.
    lambda_init: float = 0.3  # share of uniformly sampled initial positions
    init_scale: float = 10.0  # initial Gaussian std-dev, full-resolution texels (paper 5; capped at max_radius / 3)
    # Error-guided progressive addition (each batch is one LOD level).
    initial_fraction: float = 0.5  # start with this share of the Gaussians
    add_every: int = 30  # steps between additions
    add_times: int = 4  # number of additions (1 - initial_fraction) / add_times each
    # Adam learning rates (position and value as in the paper; shape 4x, measured better).
    lr_position: float = 5e-4  # image-normalised units
    lr_value: float = 5e-3
    lr_inv_scale: float = 8e-3  # 1/texel (full resolution); paper 2e-3
    lr_rotation: float = 8e-3  # radians; paper 2e-3
    keep_best: bool = True  # return the best full-resolution iterate, not the last
    # Holes (texels no Gaussian reaches; they send no gradient, docs/fitting.md):
    # every relocate_every steps (0 = never) until relocate_until of the
    # schedule, find them; then move as many Gaussians as the hole share of the
    # texels, at most relocate_fraction of them, onto holes
    # (optimize.relocate_into_holes; 0 = no moves), and sample up to 1024 hole
    # texels that a loss term of weight coverage_weight pulls the nearest
    # Gaussian over (optimize.coverage_loss; 0 = off) until the next check.
    relocate_every: int = 25
    relocate_fraction: float = 0.0
    relocate_until: float = 0.9
    coverage_weight: float = 1e-2
    lr_final: float = 0.1  # after the last addition, cosine-anneal learning rates to this share
    # Loss: sum_c w_c (D_c + ssim_weight (1 - SSIM_c)) / sum_c w_c, D = L1 (paper) or L2 (= PSNR's MSE).
    data_term: str = "l2"
    ssim_weight: float = 0.0
    ssim_crop: int = 256  # SSIM on a random crop this size per step (0 = whole image)
    # Plateau LR decay and early stop (checked after the last addition, at full resolution).
    eval_every: int = 25  # steps between PSNR checks
    plateau_steps: int = 50  # no improvement for this long -> decay
    plateau_db: float = 0.1  # "improvement" means more than this PSNR gain
    lr_decay: float = 10.0  # divide learning rates by this on a plateau
    max_decays: int = 1  # stop at the plateau after this many decays
    # Quantisation-aware training against texgs.format.quantize_ste.
    quant: str = "fixed"  # texgs.format.QuantConfig preset: fixed (per-attribute bits) | fp16 (Image-GS)
    value_bits: int = 5  # "fixed" quant: bits per channel value (a channel spanning [0, 1])
    # "uniform": value_bits for every channel; "range": a channel spanning hi - lo of [0, 1]
    # gets round(value_bits + log2(hi - lo)) bits (at least 1), the same step in stored
    # units (more Gaussians, coarser narrow channels: a wash at 0.06 bppc, docs/benchmarks.md).
    value_allocation: str = "uniform"
    position_bits: int = 0  # "fixed" quant: bits of x (0 = quarter texel; y: always a quarter texel)
    # Every Gaussian's 3-sigma radius bound, texels: the runtime's search window,
    # so decode cost grows with its square (24: 172 multiply-adds per texel at
    # 0.06 bppc; 32: 241, for +0.23 dB mean on the benchmark set at full size,
    # up to +1.2 dB on 2048^2 materials; docs/benchmarks.md "Decoding cost per texel").
    max_radius: float = 24.0
    # Texel rows per index strip (a power of two; 0 = automatic: of 8, 16, 32 the one whose
    # file holds the most Gaussians, rate.auto_strip_height: 8 for every benchmark material
    # at full size, taller for small or few-channel files at low rates). The index holds
    # one entry per strip and LOD level, and y costs log2(strip_height) + 2 bits per record,
    # so a taller strip trades index bytes for record bits (and a few more records per
    # decode window). docs/fitting.md "Strip height".
    strip_height: int = 0
    # LOD levels the file is written with. The fitter's stages (the initial Gaussians and
    # each addition, add_times + 1) are error-guided additions, not frequency bands:
    # decoding a prefix of them loses 3-13 dB (docs/IMAGE_FUNCTION.md "LOD levels"), so
    # by default every record is written as one level. The index holds strip_count x
    # levels + 1 entries and a decoder binary-searches each (strip, level) cell of its
    # window, so one level shrinks the index and the searches by the stage count
    # (docs/benchmarks.md "Small textures"). n > 1 keeps the first n - 1 stages as
    # levels and merges the rest into the last; 0 = one level per stage.
    lod_levels: int = 1
    qat_fraction: float = 0.25  # final share of steps trained through the quantiser (0 = off)
    # Value palettes ("fixed" quant): "groups" = each channel group of 2+ channels
    # (albedo RGB, normal XYZ, ...) shares a palette of 2^palette_bits entries, so
    # a record holds one index instead of the group's codes; "groups+scalars" =
    # also one palette for all single-channel maps together (AO, roughness,
    # metalness, height, ...); more Gaussians per byte, docs/benchmarks.md
    # "Value palettes"; "off" = every code in the record.
    palettes: str = "groups+scalars"
    palette_bits: int = 0  # index bits (0 = from the Gaussian count: 12 to 24 Gaussians per entry)
    # Index bits of named palettes instead of palette_bits: a channel group's name
    # (albedo, normal, ...) or "scalars" for the single-channel maps' palette, e.g.
    # {normal: 3, scalars: 3} where those maps hold detail that Gaussians at the rate do
    # not resolve, so their bits buy more Gaussians for the rest (docs/fitting.md
    # "Per-material search"). Names the material has no palette for are ignored.
    palette_bits_by_group: tuple[tuple[str, int], ...] = ()
    palette_value_bits: int = 7  # bits of each channel's code in a palette entry
    palette_refine_steps: int = 50  # full-res steps training the entries after k-means (refine.py; 0 = off)
    # Value range of each packed channel: "auto" = the channel's min..max in the
    # target (finer value steps for channels that use part of [0, 1]), "unit" = [0, 1].
    channel_range: str = "auto"
    # Largest share of a byte budget the stored mip tail (the source's box mips
    # from the finest level that fits, docs/FORMAT.md "Mip tail") may take; its
    # bytes come out of the Gaussians' budget. 0 = no tail. 0.06 keeps it near 5% of
    # the file: the tail from level 6 at 0.06 and 0.12 bppc, from level 7 at 0.03.
    mip_tail: float = 0.06
    # Exact cutouts (texgs/fit/cutout.py, docs/fitting.md "Exact cutouts"): which
    # opacity channels an engine alpha-tests at alpha_cutoff ("auto": those whose
    # texels are mostly 0 or 1; "on": every opacity channel; "off": none), and the
    # weight of the loss term keeping their decoded values on the target's side
    # of the cutoff (0: only measured).
    alpha_test: str = "auto"
    alpha_cutoff: float = 0.5
    cutout_weight: float = 1.0
    # Per-material search (texgs.fit.search; FitConfig.search()): with search_trials > 0
    # and a bppc budget, short fits (search_trial_fraction of the steps) of that many
    # candidate settings, then full fits of the best one and of these settings; the fit
    # with the higher PSNR at the same rate is kept. The radius bound is raised at most to
    # search_max_radius, or with 0 to the bound whose decode window holds no more records
    # per texel than the default's on a 1024^2 file (search.equal_work_radius).
    search_trials: int = 0
    search_trial_fraction: float = 0.25
    search_max_radius: float = 0.0
    # Execution.
    backend: str = "auto"  # renderer backend and device: BACKENDS
    threads: int = 0  # renderer threads (0 = all); never changes results

    def validate(self) -> FitConfig:
        def bad(name, why):
            raise ConfigError(f"fit setting {name}={getattr(self, name)!r}: {why}")

        if not 1 <= self.k <= MAX_K:
            bad("k", f"must be in 1..{MAX_K}")
        if self.steps < 0:
            bad("steps", "must be at least 1 (or 0: automatic)")
        if self.relocate_every < 0:
            bad("relocate_every", "must be >= 0 (0 = off)")
        if not 0.0 <= self.relocate_fraction <= 0.5:
            bad("relocate_fraction", "must be in 0..0.5")
        if not self.coverage_weight >= 0:
            bad("coverage_weight", "must be >= 0 (0 = off)")
        if not 0.0 <= self.relocate_until <= 1.0:
            bad("relocate_until", "must be in 0..1")
        if not self.pyramid or self.pyramid[-1] != 1 or any(f < 1 for f in self.pyramid):
            bad("pyramid", "must be downscale factors >= 1 ending with 1, e.g. (4, 2, 1)")
        if list(self.pyramid) != sorted(self.pyramid, reverse=True):
            bad("pyramid", "must go from coarse to fine (decreasing factors)")
        if len(self.pyramid_steps) != len(self.pyramid):
            bad("pyramid_steps", f"needs one fraction per pyramid level ({len(self.pyramid)})")
        if any(f <= 0 for f in self.pyramid_steps) or abs(sum(self.pyramid_steps) - 1.0) > 1e-6:
            bad("pyramid_steps", "fractions must be positive and sum to 1")
        if not 0.0 <= self.lambda_init <= 1.0:
            bad("lambda_init", "must be in [0, 1]")
        if not self.init_scale > 0:
            bad("init_scale", "must be positive")
        if not 0.0 < self.initial_fraction <= 1.0:
            bad("initial_fraction", "must be in (0, 1]")
        if self.add_every < 1:
            bad("add_every", "must be at least 1")
        if self.add_times < 0:
            bad("add_times", "must be >= 0")
        for name in ("lr_position", "lr_value", "lr_inv_scale", "lr_rotation"):
            if not getattr(self, name) >= 0:
                bad(name, "must be >= 0")
        if not 0.0 < self.lr_final <= 1.0:
            bad("lr_final", "must be in (0, 1]")
        if self.data_term not in ("l1", "l2"):
            bad("data_term", "choose l1 or l2")
        if not self.ssim_weight >= 0:
            bad("ssim_weight", "must be >= 0")
        if self.ssim_crop != 0 and self.ssim_crop < 16:
            bad("ssim_crop", "must be 0 (whole image) or at least 16")
        if self.eval_every < 1 or self.plateau_steps < 1:
            bad("eval_every" if self.eval_every < 1 else "plateau_steps", "must be at least 1")
        if not self.lr_decay > 1.0:
            bad("lr_decay", "must be > 1")
        if self.max_decays < 0:
            bad("max_decays", "must be >= 0")
        if not 1 <= self.value_bits <= 16:
            bad("value_bits", "must be in 1..16")
        if self.quant not in QUANT_PRESETS:
            bad("quant", f"choose one of {', '.join(QUANT_PRESETS)}")
        if not 0.0 <= self.qat_fraction <= 1.0:
            bad("qat_fraction", "must be in [0, 1]")
        if self.palettes not in ("groups", "groups+scalars", "off"):
            bad("palettes", "choose groups, groups+scalars or off")
        if not 0 <= self.palette_bits <= 12:
            bad("palette_bits", "must be in 0..12 (0 = automatic)")
        names = [name for name, _ in self.palette_bits_by_group]
        if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            bad("palette_bits_by_group", "needs distinct, non-empty group names")
        bits = [b for _, b in self.palette_bits_by_group]
        if not all(isinstance(b, int) and not isinstance(b, bool) and 1 <= b <= 12 for b in bits):
            bad("palette_bits_by_group", "index bits must be whole numbers in 1..12")
        if self.palette_refine_steps < 0:
            bad("palette_refine_steps", "must be >= 0 (0 = off)")
        if not 1 <= self.palette_value_bits <= 16:
            bad("palette_value_bits", "must be in 1..16")
        if self.value_allocation not in ("range", "uniform"):
            bad("value_allocation", "choose range or uniform")
        if self.channel_range not in ("auto", "unit"):
            bad("channel_range", "choose auto or unit")
        if not 0.0 <= self.mip_tail < 1.0:
            bad("mip_tail", "must be a share of the file in [0, 1)")
        if self.alpha_test not in ("auto", "on", "off"):
            bad("alpha_test", "choose auto, on or off")
        if not 0.0 < self.alpha_cutoff < 1.0:
            bad("alpha_cutoff", "must be in (0, 1)")
        if not self.cutout_weight >= 0:
            bad("cutout_weight", "must be >= 0 (0 = measured only)")
        if self.strip_height != 0 and not (
            1 <= self.strip_height <= 256 and self.strip_height & (self.strip_height - 1) == 0
        ):
            bad("strip_height", "must be 0 (automatic) or a power of two in 1..256")
        if self.lod_levels < 0:
            bad("lod_levels", "must be >= 0 (0 = one level per addition stage)")
        if self.search_trials < 0:
            bad("search_trials", "must be >= 0 (0 = no search)")
        if not 0.0 < self.search_trial_fraction <= 1.0:
            bad("search_trial_fraction", "must be in (0, 1]")
        if not self.search_max_radius >= 0:
            bad("search_max_radius", "must be >= 0 (0 = max_radius)")
        if self.backend not in BACKENDS:
            bad("backend", f"choose one of {', '.join(BACKENDS)}")
        if self.threads < 0:
            bad("threads", "must be >= 0")
        return self

    def __post_init__(self):
        # Accept lists (from YAML/JSON) for the tuple fields, then check everything.
        object.__setattr__(self, "pyramid", tuple(int(f) for f in self.pyramid))
        object.__setattr__(self, "pyramid_steps", tuple(float(f) for f in self.pyramid_steps))
        object.__setattr__(self, "palette_bits_by_group", _name_bits(self.palette_bits_by_group))
        self.validate()

    def replace(self, **changes) -> FitConfig:
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown fit setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict, source: str = "fit settings") -> FitConfig:
        """Build from a mapping (a pipeline file section); unknown keys are errors naming the source."""
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"{source}: unknown fit setting(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def paper(cls, **changes) -> FitConfig:
        """The Image-GS paper's schedule: 5K full-resolution steps, add every 500,
        plateau check every 100 over 1000 steps, fp16 storage, no QAT."""
        base = dict(
            steps=5000,
            pyramid=(1,),
            pyramid_steps=(1.0,),
            add_every=500,
            eval_every=100,
            data_term="l1",
            ssim_weight=0.1,
            lr_inv_scale=2e-3,
            lr_rotation=2e-3,
            init_scale=5.0,
            plateau_steps=1000,
            quant="fp16",
            qat_fraction=0.0,
            lr_final=1.0,
            ssim_crop=0,
            keep_best=False,
            channel_range="unit",
        )
        base.update(changes)
        return cls(**base)

    @classmethod
    def thorough(cls, **changes) -> FitConfig:
        """2000 steps that decay later on a plateau, for users who can spend
        about 4x the default's time at 1024^2 and above (smaller fits get 2000
        steps by default too, but decay sooner): at 512^2 it closes most of the
        gap to a 10K-step run (docs/benchmarks.md "Fitting")."""
        base = dict(steps=2000, pyramid_steps=(0.45, 0.35, 0.2), plateau_steps=200, palette_refine_steps=100)
        base.update(changes)
        return cls(**base)

    @classmethod
    def fast(cls, **changes) -> FitConfig:
        """A short schedule for previews and tests (about a quarter of the default's steps)."""
        base = dict(steps=120, add_every=15, eval_every=20, plateau_steps=40, palette_refine_steps=15)
        base.update(changes)
        return cls(**base)

    @classmethod
    def search(cls, **changes) -> FitConfig:
        """The default schedule, with the settings chosen per material by measurement
        (texgs.fit.search): SEARCH_TRIALS short fits of candidate settings (and one of the
        two best together), then at most two full fits. It costs at most
        2 + (SEARCH_TRIALS + 1) * search_trial_fraction default fits (4x with these
        values) and never returns a lower PSNR than the default."""
        base = dict(search_trials=SEARCH_TRIALS)
        base.update(changes)
        return cls(**base)


#: Candidate settings FitConfig.search() tries (texgs.fit.search.CANDIDATES, in order).
SEARCH_TRIALS = 7


def _name_bits(value) -> tuple[tuple[str, int], ...]:
    """palette_bits_by_group as sorted (name, bits) pairs, from a mapping (YAML) or pairs
    (JSON of to_dict); anything else is left for validate() to name."""
    try:
        pairs = value.items() if isinstance(value, dict) else value
        return tuple(sorted((name, bits) for name, bits in pairs))
    except (TypeError, ValueError):
        raise ConfigError(
            f"fit setting palette_bits_by_group: give a mapping of group name to index bits, got {value!r}"
        ) from None


PRESETS = {
    "default": FitConfig,
    "fast": FitConfig.fast,
    "thorough": FitConfig.thorough,
    "paper": FitConfig.paper,
    "search": FitConfig.search,
}
