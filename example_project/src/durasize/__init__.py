"""durasize: parse and format human-written durations and byte sizes.

>>> from durasize import Duration, Size
>>> Duration.parse("1h 30m").format()
'1h 30m'
>>> Duration.parse("5415s").format(parts=2)
'1h 30m'
>>> Size.parse("1.5 GiB").bytes
1610612736
>>> Size(1536).format()
'1.5 KiB'
"""

from __future__ import annotations

from durasize.duration import Duration
from durasize.errors import ParseError
from durasize.size import Size

__all__ = ["Duration", "ParseError", "Size"]
__version__ = "0.1.0"
