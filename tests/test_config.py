"""The configuration file: defaults, validation with the bad key named, overrides."""

import ipaddress
import pathlib

import pytest

from socialwatch.config import ConfigError, load_config

REPO = pathlib.Path(__file__).resolve().parents[1]


def write(tmp_path, text: str) -> pathlib.Path:
    path = tmp_path / "socialwatch.toml"
    path.write_text(text)
    return path


def test_the_example_configuration_is_valid():
    config = load_config(REPO / "socialwatch.example.toml")
    assert config.storage.url.startswith("chdb:")
    assert ipaddress.ip_network("127.0.0.0/8") in config.proxy.district_subnets


def test_defaults_need_no_file():
    config = load_config(None)
    assert config.proxy.listen_port == 8080
    assert ipaddress.ip_network("10.0.0.0/8") in config.proxy.district_subnets


@pytest.mark.parametrize("text, named", [
    ("[proxy]\nlisten_port = 70000\n", "proxy.listen_port"),
    ("[proxy]\nlisten_prot = 8080\n", "proxy.listen_prot: unknown key"),
    ("[proxy]\ndistrict_subnets = ['10.0.0.0/8', 'ten']\n", "proxy.district_subnets.1"),
    ("[storage]\nbatch_size = 0\n", "storage.batch_size"),
    ("[storage]\nflush_interval_seconds = 'soon'\n", "storage.flush_interval_seconds"),
    ("[metrics]\nlisten_port = -5\n", "metrics.listen_port"),
    ("[prxy]\n", "prxy: unknown key"),
    ("[proxy\n", "not valid TOML"),
])
def test_a_bad_key_is_reported_by_its_dotted_name(tmp_path, text, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_config(write(tmp_path, text))


def test_a_password_in_a_bad_storage_url_is_not_repeated(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, '[storage]\nurl = "postgres://u:hunter2@db/x"\n'))
    assert "storage.url" in str(error.value) and "hunter2" not in str(error.value)


def test_command_line_overrides_win_over_the_file(tmp_path):
    path = write(tmp_path, "[proxy]\nlisten_port = 8080\n[storage]\nurl = 'chdb:a'\n")
    config = load_config(path, {"proxy.listen_port": 9000, "storage.url": None})
    assert config.proxy.listen_port == 9000
    assert config.storage.url == "chdb:a"


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_every_key_is_documented():
    from socialwatch.config import Config

    documented = (REPO / "docs" / "configuration.md").read_text()
    for section, model in Config.model_fields.items():
        for key in model.annotation.model_fields:
            assert f"`{section}.{key}`" in documented, f"{section}.{key} is not in docs/configuration.md"


def test_a_writer_process_needs_a_clickhouse_server(tmp_path):
    with pytest.raises(ConfigError, match="writer = 'process' needs a 'clickhouse://' url"):
        load_config(write(tmp_path, "[storage]\nurl = 'chdb:a'\nwriter = 'process'\n"))
    config = load_config(write(tmp_path, "[storage]\nurl = 'clickhouse://h:9000/db'\nwriter = 'process'\n"
                                         "writer_cpus = [0]\n"))
    assert (config.storage.writer, config.storage.writer_cpus) == ("process", (0,))
