"""The project's one error type.

Every user-facing failure raises an :class:`EmotionCircuitsError` (or a subclass)
whose message names the argument, the bad value and the fix. The CLI prints the
message on one line and exits with code 2; it never shows a traceback for these.
"""


class EmotionCircuitsError(Exception):
    """A user error: bad argument, bad file, missing package. Message says how to fix it."""


class UnknownModelError(EmotionCircuitsError):
    """The model name is neither a known alias, a local directory, nor a hub id."""


class ModelNotInstalledError(EmotionCircuitsError):
    """The model's weight package is not installed; the message gives the pip command."""


class HookError(EmotionCircuitsError):
    """Unknown hook name, or a layer / head index outside the model's range."""


class DatasetError(EmotionCircuitsError):
    """A dataset file is missing, empty or malformed (message names line and field)."""


class ConfigError(EmotionCircuitsError):
    """A config key, value or combination is invalid (message names the key)."""


class StoreError(EmotionCircuitsError):
    """An activation store or results directory is missing, unwritable or inconsistent."""


class EmotionCircuitsWarning(UserWarning):
    """Something the user allowed but should know (e.g. vectors from another model); the CLI prints ``warning: …``."""
