from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def test_demo_page_lists_the_archive_and_shows_a_pair():
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not app.exception
    assert [m.value for m in app.metric] == ["60", "7", "20"]
    assert len(app.dataframe) == 1 and len(app.dataframe[0].value) == 60
    app.selectbox(key="demo_pair").select_index(10).run()
    assert not app.exception
    assert "Labels:" in app.caption[0].value
