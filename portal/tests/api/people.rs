//! What the web pages' tests share: a browser without JavaScript, the people they sign in
//! as, and the password those people have.

use tessera_portal::domain::accounts::{self, NewUser, Password, Role, UserRow};
use tessera_portal::domain::apikeys::{self, Owner, Scope};

use crate::helpers::TestApp;

/// The password of every person the tests make.
pub const PASSWORD: &str = "tram lantern quietly";

/// A read key `owner` makes on the web pages (limited to `org` for an org-admin).
pub async fn key_of(app: &TestApp, owner: &UserRow, org: Option<&str>) -> String {
    let owner = Owner { user_id: Some(owner.id.clone()), org_id: org.map(str::to_owned) };
    let key = apikeys::create_owned(
        &app.portal.store,
        &[Scope::Read].into(),
        "theirs",
        None,
        owner,
        app.now(),
    )
    .await
    .expect("key");
    key.expose().to_owned()
}

/// Makes a person named Dana Smith with [`PASSWORD`].
pub async fn person(app: &TestApp, email: &str, role: Role, org: Option<&str>) -> UserRow {
    let password = Password::new(PASSWORD);
    let new = NewUser { email, name: "Dana Smith", role, org_id: org, password: &password };
    accounts::create_user(&app.portal.store, &new, app.now()).await.expect("user")
}

/// A browser without JavaScript: keeps cookies by hand, never follows redirects.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub http: reqwest::Client,
    pub cookies: std::collections::BTreeMap<String, String>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Page {
    /// The value of the hidden `csrf` field of the first form.
    pub fn csrf(&self) -> String {
        let at = self.body.find(r#"name="csrf" value=""#).expect("a form token on the page");
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').expect("end")].to_owned()
    }
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Browser { app, http, cookies: Default::default() }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub async fn take(&mut self, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let set_cookies: Vec<String> = headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect();
        for line in &set_cookies {
            let pair = line.split(';').next().expect("pair");
            let (name, value) = pair.split_once('=').expect("name=value");
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let location = headers.get("location").map(|v| v.to_str().expect("location").to_owned());
        Page { status, location, headers, set_cookies, body: response.text().await.expect("body") }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.app.address))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.take(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Page {
        let mut request = self
            .http
            .post(format!("{}{path}", self.app.address))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode(form));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let response = request.send().await.expect("POST");
        self.take(response).await
    }

    /// Invites `email` as an org-admin of organization `org` from the people page.
    pub async fn invite_org_admin(&mut self, email: &str, org: &str, csrf: &str) -> Page {
        let form = [("email", email), ("role", "org-admin"), ("org", org), ("csrf", csrf)];
        self.post("/ui/users/invite", &form, None).await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        let form = self.get("/ui/signin").await;
        let csrf = form.csrf();
        self.post("/ui/signin", &[("email", email), ("password", password), ("csrf", &csrf)], None)
            .await
    }
}

/// `application/x-www-form-urlencoded`, as a browser sends a form.
pub fn encode(form: &[(&str, &str)]) -> String {
    let escape = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    form.iter().map(|(k, v)| format!("{}={}", escape(k), escape(v))).collect::<Vec<_>>().join("&")
}
