"""Exceptions raised by interp. Each says what is wrong in the user's terms."""

from __future__ import annotations


class InterpError(Exception):
    """Base class of every error interp raises on purpose."""


class ModelLoadError(InterpError, ValueError):
    """A model could not be found, read or recognised as a causal language model."""


class SiteError(InterpError, KeyError):
    """A site name that the wrapped model does not have."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InputError(InterpError, ValueError):
    """Inputs, positions or tensors that do not fit the model or each other."""


class SuiteError(InterpError, ValueError):
    """A suite file (SyntaxGym, CausalGym templates or rows) that is malformed; names file, item, field."""


class NumericalError(InterpError, FloatingPointError):
    """A score that came out NaN or infinite (non-finite logits or activations); names the unit it belongs to."""


class NoLayoutWarning(UserWarning):
    """A Hugging Face model interp has no layout for: only module-path sites; the message lists some."""


class MassiveActivationWarning(UserWarning):
    """A few tokens whose activations are many times the median norm carry most of a site's variance."""
