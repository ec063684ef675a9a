"""The arguments of ``presslens train stance`` (a typed dataclass with help text and checks), on a floor of
their own: the training loop (``training.stance``) and the fine-tuning steps (``training.finetune``) both
read them, and neither imports the other's module for it."""

from __future__ import annotations

from dataclasses import dataclass

from presslens.model.encoder import DEFAULT_ENCODER
from presslens.model.stance import MODES

from .arguments import arg
from .data import DataError


@dataclass
class TrainStanceArgs:
    data: list[str] = arg(help="labelled sentences (repeatable): CheckThat TSV, NewsSD/BABE CSV, text,label "
                               "csv/tsv/jsonl/parquet, or a hub id", metavar="PATH")
    out: str = arg(help="checkpoint directory (written atomically)", metavar="DIR")
    dev: list[str] = arg(help="dev data: picks the epoch and threshold", metavar="PATH", default_factory=list)
    exclude: list[str] = arg(help="held-out evaluation files: their sentences are removed from training and "
                                  "scored at the end", metavar="PATH", default_factory=list)
    format: str = arg("auto", help="format of the --data files (default: detect)")
    encoder: str = arg(DEFAULT_ENCODER, help="base encoder: 'minilm' (the packaged one), 'mpnet' "
                                        "(installed), a hub id or a directory")
    mode: str = arg("fast", choices=MODES, help="fast: frozen encoder + head; adapter: LoRA; partial: top "
                                                "--train-layers layers; full: all")
    epochs: int = arg(0, help="epochs (0: the mode's default)")
    lr: float = arg(0.0, help="encoder learning rate (0: the mode's default)")
    batch_size: int = arg(16, help="sentences per batch")
    hidden: int = arg(0, help="hidden width of the head (0: linear)")
    max_length: int = arg(128, help="encoder tokens per sentence")
    head_lr: float = arg(1e-3, help="learning rate of the head when fine-tuning")
    train_layers: int = arg(2, help="partial mode: top encoder layers to fine-tune")
    lora_r: int = arg(16, help="adapter mode: LoRA rank")
    adapter_layers: int = arg(0, help="adapter mode: LoRA on the top N encoder layers only, the frozen layers "
                                      "below run once (0: every layer)")
    seed: int = arg(13, help="random seed")
    limit: int = arg(0, help="use at most N training sentences (0: all)")
    article_rule: dict = arg(cli=False, default_factory=dict)
    calibrate_articles: str = arg("", metavar="DIR", help="BASIL directory: calibrate the in-article threshold "
                                                          "and article rule on its calib half")
    max_fer: float = arg(0.02, help="false-editorial budget for that calibration")
    calibrate_links: str = arg("auto", metavar="DIR|auto|off",
                               help="labelled news sentence pairs to choose the claim-link and support cosines on "
                                    "(presslens calibrate; auto: ~/.cache/presslens/sts-news if fetched, else the "
                                    "hand-set defaults, marked not calibrated)")
    threshold_prior: str = arg("train", metavar="train|dev|SHARE",
                               help="choose the sentence threshold for the training data's label balance "
                                    "(default; dev reweighted to train's share of editorial), the dev data's, "
                                    "or a given share of editorial sentences in (0, 1)")
    cv: int = arg(0, help="choose the epoch and threshold by K-fold cross-validation over --data (no --dev), "
                          "then train on all of it (0: off)", metavar="K")
    voice_rules: bool = arg(True, help="mark sentences in the writer's own voice (first person, questions to the "
                                       "reader) commentary inside an article, whatever their probability")
    precision: str = arg("auto", choices=("auto", "bf16", "fp32"),
                         help="training precision: bf16 autocast where the CPU has bf16 units (auto), or forced")
    dev_fraction: float = arg(0.2, cli=False)  # without --dev: share of the training data held out as dev
    init: str = arg("", metavar="NAME|DIR", help="start the encoder from this stance model (profile or checkpoint: "
                                                 "a first stage trained on other data; intermediate-task training)")
    teacher: str = arg("", metavar="NAME|DIR", help="distil: a teacher stance model (profile or checkpoint) whose "
                                                     "soft labels over --pool are fitted beside the gold data")
    pool: str = arg("", metavar="FILE.jsonl", help="distil: the unlabelled sentences (presslens train pool)")
    pool_limit: int = arg(0, help="distil: use the first N pool sentences (the pool is shuffled, so a prefix "
                                   "samples every source; 0: all)", metavar="N")
    temperature: float = arg(1.0, help="distil: divide the teacher's logits by this before the sigmoid")
    gold_weight: float = arg(1.0, help="distil: weight of a gold sentence relative to a pool sentence")
    anchor_weight: float = arg(0.0, help="partial mode: weight of a cosine term that keeps every sentence's "
                                         "embedding near the starting encoder's, so claim links and summaries "
                                         "read the same space stance is trained in (0: off)")
    teacher_cache: str = arg("", metavar="DIR", help="distil: cache of teacher outputs (default: "
                                                     "$PRESSLENS_HOME/cache/teacher or ~/.cache/presslens/cache/teacher)")
    report_excluded: bool = arg(True, help="use the --exclude files only to drop duplicates, do not score the "
                                           "model on them (presslens eval does)")
    lexical: bool = arg(False, help="fit the TF-IDF branch beside the encoder; its C and gate (0 = off) chosen on dev")
    command: str = arg("", cli=False)

    def __post_init__(self) -> None:
        if not self.data:
            raise DataError("give at least one --data file")
        if self.mode not in MODES:
            raise DataError(f"--mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if bool(self.teacher) != bool(self.pool):
            raise DataError("distillation needs both --teacher and --pool")
        if self.teacher and self.mode == "fast":
            raise DataError("distillation fine-tunes the student: use --mode partial, adapter or full")
        if self.anchor_weight < 0 or (self.anchor_weight and self.mode != "partial"):
            raise DataError("--anchor-weight must be >= 0, and needs --mode partial")
        if self.temperature <= 0 or self.gold_weight < 0:
            raise DataError("--temperature must be > 0 and --gold-weight >= 0")
        if self.threshold_prior not in ("train", "dev") and not 0 < parse_share(self.threshold_prior) < 1:
            raise DataError(f"--threshold-prior must be train, dev or a share in (0, 1), got {self.threshold_prior!r}")
        if self.cv and (self.cv < 2 or self.dev or self.mode == "fast"):
            raise DataError("--cv K needs K >= 2, no --dev (its data go in --data) and a fine-tuning --mode")
        if self.epochs < 0 or self.lr < 0 or self.batch_size < 1 or self.limit < 0 or self.pool_limit < 0:
            raise DataError("--epochs, --lr and --limit must be >= 0 and --batch-size >= 1")
        if not self.epochs:
            self.epochs = {"fast": 300, "adapter": 6, "partial": 5, "full": 4}[self.mode]
        if not self.lr:
            self.lr = {"fast": 1e-2, "adapter": 5e-4, "partial": 1e-4, "full": 3e-5}[self.mode]


def parse_share(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return -1.0
