"""The entry point: navigation, shared state, and Keras' state kept between script runs."""


def test_the_app_starts_on_the_draw_page_with_the_shared_state(new_app):
    at = new_app().run()
    assert not at.exception
    assert at.title[0].value == "Draw a digit"
    for key in ("model_name", "current_drawing", "user_name", "teacher_unlocked"):
        assert key in at.session_state


def test_a_script_run_does_not_clear_keras_state_under_running_trainings(new_app):
    # Streamlit calls keras.backend.clear_session() after every run; with a live training
    # view rerunning twice a second that made training in the app four times slower.
    from mnist_core.base.keras_import import import_keras

    keras = import_keras()
    before = keras.backend.get_uid("probe_of_the_app_test")
    at = new_app().run()
    assert not at.exception
    at.run()
    assert keras.backend.get_uid("probe_of_the_app_test") == before + 1
