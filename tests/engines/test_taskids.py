import threading

from omicsd.engines._taskids import TaskIds


def test_ids_are_seven_digit_numbers_never_repeated_in_a_run() -> None:
    ids = TaskIds()
    drawn = [ids.new() for _ in range(20_000)]
    assert len(set(drawn)) == len(drawn)
    assert all(len(i) == 7 and i.isdigit() and not i.startswith("0") for i in drawn)


def test_a_repeat_drawn_by_the_generator_is_skipped() -> None:
    seed = b"omicsd"
    first = TaskIds(seed).new()
    ids = TaskIds(seed)
    ids._used.add(first)  # the generator's first draw is taken already
    assert ids.new() != first


def test_each_run_draws_its_own_sequence() -> None:
    assert [TaskIds().new() for _ in range(3)] != [TaskIds().new() for _ in range(3)]


def test_threads_never_get_the_same_id() -> None:
    ids = TaskIds()
    drawn: list[str] = []

    def draw() -> None:
        drawn.extend(ids.new() for _ in range(2_000))

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(drawn)) == 8_000
