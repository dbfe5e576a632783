//! The settings' layers and checks.

use super::*;

#[test]
fn flags_win_over_the_file_and_the_file_over_defaults() {
    let file: Layer = toml::from_str(
        "listen = \"0.0.0.0:9000\"\ndata_dir = \"/var/lib/tessera\"\npings_per_minute = 5\n",
    )
    .expect("toml");
    let flags = Layer { listen: Some("127.0.0.1:7000".parse().expect("addr")), ..Layer::default() };
    let settings = flags.over(file).resolve().expect("settings");
    assert_eq!(settings.listen.port(), 7000);
    assert_eq!(settings.limits.pings_per_minute, 5);
    assert_eq!(settings.database_url.expose(), "sqlite:///var/lib/tessera/portal.db");
}

#[test]
fn debug_never_prints_a_database_password() {
    let flags = Layer {
        database_url: Some("postgres://tessera:hunter2@db.internal/portal".parse().expect("url")),
        ..Layer::default()
    };
    let printed = format!("{flags:?} {:?}", flags.clone().resolve().expect("settings"));
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(!printed.contains("db.internal"), "{printed}");
    assert!(printed.contains("postgres://[redacted]"), "{printed}");
}

#[test]
fn unknown_keys_and_half_tls_are_refused() {
    assert!(toml::from_str::<Layer>("listn = \"x\"").is_err());
    let half = Layer { tls_cert: Some("c.pem".into()), ..Layer::default() };
    assert!(half.resolve().is_err());
}

#[test]
fn a_mail_relay_needs_the_public_url_its_links_are_built_from() {
    let relay = Layer {
        smtp_url: Some(SmtpUrl::from("smtp://127.0.0.1:25".to_owned())),
        smtp_from: Some("portal@vendor.example".into()),
        ..Layer::default()
    };
    let refused = relay.clone().resolve().expect_err("no public_url");
    assert!(refused.to_string().contains("smtp_url needs public_url"), "{refused}");
    let with_url = Layer { public_url: Some("https://portal.vendor.example".into()), ..relay };
    assert!(with_url.resolve().expect("settings").smtp.is_some());
}
