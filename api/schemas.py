"""Request and response bodies. Every input field carries limits; responses mirror ``Analysis.to_dict``.

The configurable limits (articles per request, characters per article: ``Settings.limits()``) are checked
in ``deps.py`` with a 422 naming the setting, and ``publish_limits`` writes them into the OpenAPI schema
(``maxItems``, ``maxLength``), so the schema, ``/info`` and the error messages give one number each, and a
request over them gets the status any other schema violation gets. The one fixed ceiling,
``MAX_ARTICLES_CEILING`` on the article list, only stops pydantic from validating (and reporting on) an
unbounded list before that check runs; a request over it gets the same 422 (``errors.py``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .settings import MAX_ARTICLES_CEILING

Label = Literal["neutral", "editorial"]


def _integral(v):
    # JSON Schema counts 3.0 as an integer; strict mode would refuse it. "3", 3.5 and true stay refused.
    return int(v) if isinstance(v, float) and v.is_integer() else v




class _Strict(BaseModel):
    # Unknown fields are an error: a typo such as "body" for "text" must not be silently ignored.
    # Strict types: 0 is not ``false`` and "3" is not 3, as the published schema says (found by fuzzing).
    model_config = ConfigDict(extra="forbid", strict=True)


def _one_of_text_or_html(schema: dict) -> None:
    # The published schema says what the validators enforce: exactly one of text/html, each a string that
    # is not blank (null is refused, not read as "absent"), so generated clients and fuzzers agree with us.
    for key in ("text", "html"):
        prop = schema["properties"][key]
        string = next(s for s in prop.pop("anyOf") if s.get("type") == "string")
        prop.pop("default", None)
        prop.update(string, pattern=r"\S")
    schema["oneOf"] = [{"required": ["text"]}, {"required": ["html"]}]


class ArticleIn(_Strict):
    """One article: plain ``text`` (optionally with a ``title``) or raw ``html`` of a web page."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_one_of_text_or_html)

    id: str | None = Field(None, max_length=200, description="your identifier, echoed back")
    title: str | None = Field(None, max_length=1000, description="headline, if not part of the text (for html: overrides the page title)")
    text: str | None = Field(None, description="the article's text")
    html: str | None = Field(None,
                             description="a web page; reduced to the article's main text (trafilatura)")

    @field_validator("text", "html", mode="before")
    @classmethod
    def _not_null(cls, v):
        if v is None:  # only explicit input reaches here: an absent field keeps its default
            raise ValueError("must be a string (leave the field out rather than sending null)")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> ArticleIn:
        if (self.text is None) == (self.html is None):
            raise ValueError("give exactly one of 'text' or 'html'")
        body = self.text if self.text is not None else self.html
        if not body.strip():
            raise ValueError("the article is empty")
        return self


class AnalyzeOptionsIn(_Strict):
    summary_sentences: int | None = Field(3, ge=1, le=50, description=(
        "summary budget in sentences (3 when left out, unless summary_words is given; null: no sentence cap)"))
    summary_words: int | None = Field(None, ge=1, le=5000, description=(
        "summary budget in words (whitespace-separated), never exceeded; given alone, no sentence cap"))
    claims_only: bool = Field(False, description="leave the writer's commentary out of the summary")

    _integral_budgets = field_validator("summary_sentences", "summary_words", mode="before")(_integral)

    @model_validator(mode="after")
    def _word_budget_alone(self):
        # model.pipeline.summary_budget's rule: a word budget alone is not capped by the sentence default
        if self.summary_words is not None and "summary_sentences" not in self.model_fields_set:
            self.summary_sentences = None
        return self


class AnalyzeRequest(AnalyzeOptionsIn):
    articles: list[ArticleIn] = Field(..., min_length=1, max_length=MAX_ARTICLES_CEILING)

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{
        "articles": [{"id": "a1", "text": "Officials met in London on Friday. Critics said the talks failed."}],
        "summary_sentences": 2, "claims_only": False}]})


class CoverageRequest(AnalyzeRequest):
    articles: list[ArticleIn] = Field(..., min_length=2, max_length=MAX_ARTICLES_CEILING,
                                      description="two or more articles on one event")

    # Its own example: the inherited one holds a single article, which this request's schema (minItems 2)
    # refuses, so a client or fuzzer sending the published example got a 422.
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [{
        "articles": [{"id": "a1", "text": "Officials met in London on Friday. Critics said the talks failed."},
                     {"id": "a2", "text": "Talks in London ended on Friday. The ministers will meet again."}],
        "summary_sentences": 2, "claims_only": False}]})


# -- responses -----------------------------------------------------------------------------------
class _Open(BaseModel):
    # Extra fields pass through: the model layer may add fields without the API dropping them.
    model_config = ConfigDict(extra="allow")


class SentenceOut(_Open):
    index: int
    text: str
    start: int
    end: int
    is_title: bool
    paragraph: int = Field(description="the paragraph the sentence is in (0: the headline's, when there is one)")
    commentary: bool
    probability: float
    reported: bool
    speaker: str | None


class SummaryOut(_Open):
    index: int
    text: str
    start: int
    end: int
    score: float
    commentary: bool
    speaker: str | None


class AnalysisOut(_Open):
    id: str
    title: str | None
    label: Label
    confidence: float
    editorial_probability: float
    commentary: list[int] = Field(description="indices of the commentary sentences")
    summary: list[SummaryOut]
    sentences: list[SentenceOut]


class AnalyzeResponse(BaseModel):
    model: str = Field(description="version of the model that answered")
    results: list[AnalysisOut]


class SummaryResult(_Open):
    id: str
    title: str | None
    summary: list[SummaryOut]


class SummarizeResponse(BaseModel):
    model: str
    results: list[SummaryResult]


class _ArticleStance(_Open):
    id: str
    title: str | None
    label: Label
    confidence: float
    editorial_probability: float
    commentary: list[int]


class ClassifyResult(_ArticleStance):
    sentences: list[SentenceOut]


class ClassifyResponse(BaseModel):
    model: str
    results: list[ClassifyResult]


class CoverageResponse(_Open):
    """``CoverageResult.to_dict()`` plus the model version: ``summary`` (the event summary), ``shared``
    (claims carried by two or more articles, with their ids) and ``unique`` (each article's own claims)."""

    model: str
    articles: list[AnalysisOut] = Field(description="each article's analysis, as POST /v1/analyze returns it")
    summary: list[dict]
    shared: list[dict]
    unique: dict[str, list[dict]]


class FeedbackIn(_Strict):
    """A user's corrected label for an article (no ``sentence_index``) or one of its sentences."""

    # The pattern is published (not blank) but enforced by ``_not_blank`` below, whose message is clearer.
    text: str = Field(..., min_length=1, json_schema_extra={"pattern": r"\S"},
                      description="the sentence (or article) text the label belongs to (not blank)")
    label: Label
    article_id: str | None = Field(None, max_length=200)
    sentence_index: int | None = Field(None, ge=0, le=100_000)
    predicted: Label | None = Field(None, description="what presslens said, if known")
    model: str | None = Field(None, max_length=200, description="model version that made the prediction")
    comment: str | None = Field(None, max_length=2000)

    _integral_index = field_validator("sentence_index", mode="before")(_integral)

    @model_validator(mode="after")
    def _not_blank(self) -> FeedbackIn:
        if not self.text.strip():
            raise ValueError("'text' is blank")
        return self


class FeedbackOut(BaseModel):
    id: int
    kind: Literal["article", "sentence"]
    label: Label


class ReloadRequest(_Strict):
    checkpoint: str = Field(..., min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._-]+$",
                            description="name of a checkpoint directory inside the configured models folder")


class ModelInfo(_Open):
    id: str
    kind: Literal["stance", "summarizer"]
    version: str
    active: bool
    path: str | None = None
    checksums: dict[str, str] = Field(default_factory=dict)
    metrics: dict = Field(default_factory=dict)
    precision: dict | None = Field(None, description="stance: the encoder precision serving (fp32, bf16, int8), "
                                   "what was requested, why it was chosen, the gate's figures and the CPU")


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class ErrorOut(BaseModel):
    error: str
    error_type: str


# Where each configurable limit shows in the published schema: (component, property, keyword, limit).
_PUBLISHED_LIMITS = (
    ("ArticleIn", "text", "maxLength", "max_chars"),
    ("ArticleIn", "html", "maxLength", "max_chars"),
    ("FeedbackIn", "text", "maxLength", "max_chars"),
    ("AnalyzeRequest", "articles", "maxItems", "max_articles"),
    ("CoverageRequest", "articles", "maxItems", "max_articles"),
)


def publish_limits(spec: dict, limits: dict[str, int]) -> dict:
    """Write a deployment's limits (``Settings.limits()``) into its OpenAPI document, in place."""
    components = spec.get("components", {}).get("schemas", {})
    for component, prop, keyword, name in _PUBLISHED_LIMITS:
        if component in components:
            components[component]["properties"][prop][keyword] = limits[name]
    return spec
