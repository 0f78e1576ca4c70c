"""What fixes the networks' shapes, and its one check (torch-free).

:class:`aaae_train.options.TrainOptions` (the command line, options.json) and
:class:`aaae_train.networks.ArchConfig` (built from options, or read from a checkpoint) both check these values
here, in the options' own names, so the two can never disagree about what is allowed; this module sits below
both, so neither imports the other to share it.
"""

from __future__ import annotations

RESOLUTIONS = (32, 64, 128)
CHANNELS = (1, 3)


def shape_problem(
    resolution: int | None,
    channels: int | None,
    width: float,
    z_dim: int,
    c_dim: int,
    approx_hidden: int,
    approx_layers: int,
    approx_components: int,
) -> str | None:
    """What is wrong with the options that fix the networks' shapes (None: nothing), in the options' own names.

    The one check of these values: :meth:`TrainOptions.validate` raises it as a user error, and
    :class:`aaae_train.networks.ArchConfig` (built from options or read from a checkpoint) as a ValueError.
    ``resolution`` and ``channels`` may still be None in options whose data has not been looked at yet.
    """
    checks = [
        (resolution is None or resolution in RESOLUTIONS, f"--resolution must be one of {RESOLUTIONS}"),
        (channels is None or channels in CHANNELS, f"--channels must be 1 or 3, not {channels}"),
        (0 < width <= 4, f"--width must be in (0, 4], not {width}"),
        (1 <= z_dim <= 1 << 14 and 1 <= c_dim <= 1 << 14, "z and c sizes must be from 1 to 16384"),
        (approx_hidden >= 1 and approx_layers >= 1, "--approx-hidden and --approx-layers must be >= 1"),
        (
            approx_hidden <= 1 << 16 and approx_layers <= 64 and approx_components <= 1 << 12,
            "--approx-hidden <= 65536, --approx-layers <= 64 and --approx-components <= 4096",
        ),
        (approx_components >= 0, "--approx-components must be >= 0"),
        (approx_components <= 1 or z_dim >= 2, "--approx-components needs --z-dim of at least 2"),
    ]
    return next((message for ok, message in checks if not ok), None)
