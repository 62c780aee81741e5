from mtlaqa.schema import ATTRIBUTE_CLASSES, dive_name, dive_number


def test_attribute_classes_match_release_schema():
    assert ATTRIBUTE_CLASSES == {
        "position": 3,
        "armstand": 2,
        "rotation_type": 4,
        "ss_no": 10,
        "tw_no": 8,
    }


def test_fina_numbers_of_known_dives():
    # inward 3½ tuck, back 2½ with 1½ twists pike, armstand back 3 tuck, forward 4½ tuck
    assert dive_number(2, 0, 2, 7, 0) == "407C"
    assert dive_number(1, 0, 0, 5, 3) == "5253B"
    assert dive_number(2, 1, 0, 6, 0) == "626C"
    assert dive_number(2, 0, 1, 9, 0) == "109C"
    assert dive_number(0, 0, 3, 5, 5) == "5355D"
    assert dive_number(1, 1, 1, 4, 0) == "614B"


def test_dive_name_reads_like_a_commentator():
    assert dive_name(1, 0, 0, 5, 3) == "back 2½ somersaults 1½ twists pike"
    assert dive_name(2, 1, 0, 6, 0) == "armstand back 3 somersaults tuck"
