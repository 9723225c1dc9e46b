"""bench.sql_floor cuts a log as a replay reads it: per partition, in order, in turns."""
from bench.sql_floor import chunks


def test_each_partition_is_cut_in_order_and_the_partitions_take_turns() -> None:
    records = [(p, b"k", f"{p}-{i}".encode()) for i in range(5) for p in (1, 0)]
    cut = chunks(records, 2)
    assert [(c[0].partition, [m.value.decode() for m in c]) for c in cut] == [
        (0, ["0-0", "0-1"]), (1, ["1-0", "1-1"]), (0, ["0-2", "0-3"]), (1, ["1-2", "1-3"]),
        (0, ["0-4"]), (1, ["1-4"])]
    assert [m.offset for c in cut if c[0].partition == 1 for m in c] == [0, 1, 2, 3, 4]
