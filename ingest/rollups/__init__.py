"""The usage rollups, owned by ingest: their tables (:mod:`.grains`), how events are counted
into them (:mod:`.write`), rebuilt, re-priced, merged and checked (:mod:`.maintain`), and
read (:mod:`.read`, over the windows and buckets of :mod:`.windows`). Rankings reads them
only through :mod:`.read`."""
