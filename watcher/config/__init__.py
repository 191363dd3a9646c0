"""Configuration: one TOML file, validated once at start-up.

Every problem is collected and reported together, each naming the file, the
key and the fix. Unknown keys are refused (a typo must not silently become a
default). The result is a tree of frozen dataclasses; nothing else in the
program reads TOML or the environment for settings.

One module per section of the file: ``network`` reads ``[network]`` into a
``NetworkConfig``, ``feeds`` reads ``[[feeds]]``, ... each with the reader in
``reader`` (which collects the problems); ``file`` finds and parses the file,
reads ``[watcher]`` and puts the sections together into ``Config``. A new key
goes into its section's dataclass and ``read_<section>`` function; a new
section gets its own module and a line in ``file.read_config``. Import from
``watcher.config``.
"""

from watcher.config.alerts import AlertsConfig
from watcher.config.channels import CHANNEL_FORMATS, CHANNEL_MODES, WEBHOOK_SCHEMES, ChannelConfig
from watcher.config.dedup import DedupConfig
from watcher.config.extraction import MIN_EXTRACTION_MB, ExtractionConfig
from watcher.config.feeds import FeedConfig
from watcher.config.file import (
    CONFIG_ENV,
    DEFAULT_CONFIG_NAME,
    DEFAULT_USER_AGENT,
    Config,
    load,
    private_file_warning,
    resolve_path,
)
from watcher.config.network import PROXY_SCHEMES, NetworkConfig, proxy_problem
from watcher.config.reader import DAY, MAX_PERIOD, MAX_TIMEOUT
from watcher.config.serve import ServeConfig
from watcher.config.severity import SEVERITIES, severity_rank
from watcher.config.workers import WorkersConfig
from watcher.errors import ConfigError

__all__ = [
    "CHANNEL_FORMATS",
    "CHANNEL_MODES",
    "CONFIG_ENV",
    "DAY",
    "DEFAULT_CONFIG_NAME",
    "DEFAULT_USER_AGENT",
    "MAX_PERIOD",
    "MAX_TIMEOUT",
    "MIN_EXTRACTION_MB",
    "PROXY_SCHEMES",
    "SEVERITIES",
    "AlertsConfig",
    "ChannelConfig",
    "Config",
    "ConfigError",
    "DedupConfig",
    "ExtractionConfig",
    "FeedConfig",
    "NetworkConfig",
    "ServeConfig",
    "WEBHOOK_SCHEMES",
    "WorkersConfig",
    "load",
    "private_file_warning",
    "proxy_problem",
    "resolve_path",
    "severity_rank",
]
