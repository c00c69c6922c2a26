"""The channel client and platform against a fake experiment server (unix and tcp)."""

from __future__ import annotations

import pytest
from nasctl.runtime.errors import ChannelError, TrialError
from nasctl.runtime.trial import ChannelClient, TrialContext
from nasctl.runtime.trial._channel import parse_address

import nas

ARCH = {"m/lr/choice": 0.01, "m/b/h": {"h": {"chosen_layer": "f()", "chosen_inputs": []}}}


def _environ(address: str, token: str = "secret") -> dict[str, str]:
    return {"NAS_PLATFORM": "local", "NAS_CHANNEL": address, "NAS_TOKEN": token, "NAS_TRIAL_ID": "t7",
            "NAS_EXPERIMENT_ID": "exp1", "NAS_TRIAL_SEED": "42"}


@pytest.fixture
def channel_context(make_current):
    return lambda environ: make_current(TrialContext.from_environment(environ))


def test_a_trial_gets_parameters_and_reports_over_one_connection(fake_server, dispatcher, channel_context):
    server = fake_server(dispatcher([ARCH]))
    channel_context(_environ(server.address))
    assert nas.get_experiment_id() == "exp1" and nas.get_trial_id() == "t7" and nas.get_trial_seed() == 42
    assert nas.choice(0.1, 0.01, key="m/lr/choice") == 0.01  # fetched lazily
    nas.report_intermediate_result(0.5)
    nas.report_intermediate_result({"default": 0.6, "loss": 1.5})
    nas.report_final_result(0.7)
    assert server.connections == 1
    requests = server.requests
    assert [r["seq"] for r in requests] == [0, 1, 2, 3]
    assert all(r["token"] == "secret" and r["trial_id"] == "t7" for r in requests)
    assert requests[0]["type"] == "get_parameter"
    assert requests[1] == {"token": "secret", "trial_id": "t7", "type": "metric", "seq": 1, "kind": "intermediate",
                           "value": 0.5, "parameter_id": 0, "sequence": 0}
    assert requests[2]["value"] == {"default": 0.6, "loss": 1.5} and requests[2]["sequence"] == 1
    assert requests[3]["kind"] == "final" and requests[3]["value"] == 0.7 and "sequence" not in requests[3]


def test_requests_validate_against_the_message_schema(fake_server, dispatcher, channel_context):
    schemas = pytest.importorskip("nasctl.schemas")
    server = fake_server(dispatcher([ARCH]))
    channel_context(_environ(server.address))
    nas.get_next_parameter()
    nas.report_intermediate_result(1)
    nas.report_architecture({"m/lr/choice": 0.1})
    nas.report_final_result(2.5)
    for request in server.requests:
        schemas.validate("message", request)
    assert server.requests[2]["architecture"] == {"m/lr/choice": 0.1}
    assert server.requests[2]["parameter_id"] == 0


def test_multi_phase_and_no_more_parameters(fake_server, dispatcher, channel_context):
    server = fake_server(dispatcher([{"m/lr/choice": 0.1}, {"m/lr/choice": 0.01}]))
    channel_context(_environ(server.address))
    assert nas.get_next_parameter() == {"m/lr/choice": 0.1}
    nas.report_intermediate_result(1)
    assert nas.get_next_parameter() == {"m/lr/choice": 0.01}
    nas.report_intermediate_result(2)
    assert nas.get_current_parameter("m/lr/choice") == 0.01
    assert nas.get_next_parameter() is None
    metrics = [r for r in server.requests if r["type"] == "metric"]
    assert [(m["parameter_id"], m["sequence"]) for m in metrics] == [(0, 0), (1, 0)]


def test_a_refused_request_is_a_channel_error_with_the_servers_reason(fake_server, dispatcher, channel_context):
    server = fake_server(dispatcher([ARCH], token="other"))
    channel_context(_environ(server.address))
    with pytest.raises(ChannelError, match=r"refused the 'get_parameter' request \(trial t7\): wrong token"):
        nas.get_next_parameter()


def test_the_experiment_going_away_mid_trial_is_a_clear_error(fake_server, dispatcher, channel_context):
    handle = dispatcher([ARCH])
    server = fake_server(lambda request: None if request["type"] == "metric" else handle(request))
    channel_context(_environ(server.address))
    nas.get_next_parameter()
    with pytest.raises(ChannelError, match=r"closed the channel .* 'metric' request; it is gone or was stopped"):
        nas.report_final_result(0.5)


def test_no_experiment_listening_is_a_clear_error(free_tcp_address, channel_context, tmp_path):
    channel_context(_environ(free_tcp_address))
    with pytest.raises(ChannelError, match=r"cannot reach the experiment at tcp:127\.0\.0\.1:\d+ \(NAS_CHANNEL\)"):
        nas.get_next_parameter()
    channel_context(_environ(f"unix:{tmp_path}/missing.sock"))
    with pytest.raises(ChannelError, match=r"cannot reach the experiment at unix:.*missing\.sock"):
        nas.get_next_parameter()


def test_a_reply_with_the_wrong_seq_is_refused(fake_server, channel_context):
    server = fake_server(lambda request: {"type": "ack", "seq": request["seq"] + 5})
    client = ChannelClient(server.address, "secret", "t1")
    with pytest.raises(ChannelError, match="answered request 0 with seq 5"):
        client.request("log", level="info", message="hi")
    client.close()


def test_a_missing_key_in_the_experiments_architecture_names_the_key(fake_server, dispatcher, channel_context):
    server = fake_server(dispatcher([ARCH]))
    channel_context(_environ(server.address))
    with pytest.raises(Exception, match="architecture key 'm/other/choice': .* no value for this choice"):
        nas.choice(1, 2, key="m/other/choice")


@pytest.mark.parametrize(("address", "message"), [
    ("http://x", "expected 'unix:/path/to/socket' or 'tcp:host:port'"),
    ("tcp:host", "expected"),
    ("unix:", "expected"),
])
def test_bad_channel_addresses(address, message):
    with pytest.raises(ChannelError, match=message):
        parse_address(address)


def test_environment_errors_name_the_variable():
    with pytest.raises(TrialError, match="NAS_PLATFORM=local needs NAS_TOKEN"):
        TrialContext.from_environment({"NAS_PLATFORM": "local", "NAS_CHANNEL": "tcp:h:1", "NAS_TRIAL_ID": "t"})
    with pytest.raises(TrialError, match="NAS_PLATFORM='cloud' is not a platform"):
        TrialContext.from_environment({"NAS_PLATFORM": "cloud"})
    with pytest.raises(TrialError, match="NAS_TRIAL_SEED='x1' .* not an integer"):
        TrialContext.from_environment({"NAS_TRIAL_SEED": "x1"})
    with pytest.raises(TrialError, match="NAS_MODE_CONFIG is not valid JSON"):
        TrialContext.from_environment({"NAS_MODE_CONFIG": "{bad"})


def test_a_second_final_result_for_one_parameter_is_a_warning_and_is_not_sent(fake_server, dispatcher,
                                                                              channel_context, capsys):
    server = fake_server(dispatcher([{"m/lr/choice": 0.1}, {"m/lr/choice": 0.01}]))
    channel_context(_environ(server.address))
    nas.get_next_parameter()
    nas.report_final_result(0.5)
    nas.report_final_result(0.25)
    nas.report_final_result(0.125)
    nas.get_next_parameter()
    nas.report_final_result(0.75)  # another parameter: sent
    finals = [(r["parameter_id"], r["value"]) for r in server.requests if r["type"] == "metric"]
    assert finals == [(0, 0.5), (1, 0.75)]
    err = capsys.readouterr().err
    assert err.count("nasctl: warning") == 1
    assert "trial t7: report_final_result(0.25) ignored: parameter 0 already has a final result" in err


def test_a_warning_in_the_experiments_reply_goes_to_the_trials_stderr(fake_server, dispatcher, channel_context,
                                                                     capsys):
    handle = dispatcher([ARCH])
    server = fake_server(lambda request: {**handle(request), "warning": "something to know"}
                         if request["type"] == "metric" else handle(request))
    channel_context(_environ(server.address))
    nas.report_intermediate_result(0.5)
    assert "nasctl: warning: trial t7: something to know" in capsys.readouterr().err
