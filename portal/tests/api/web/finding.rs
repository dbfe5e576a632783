//! Finding licenses on the web pages over real HTTP: filters, sort, count, pages both
//! ways, the CSV download, the dashboard's links, and what an org-admin reaches.

use super::*;
use tessera_core::license::{Claims, LicenseTerms};

/// Registers licenses made by `tune` (each given its index) in one batch call.
async fn register_all(
    app: &TestApp,
    n: usize,
    tune: impl Fn(usize, &mut LicenseTerms),
) -> Vec<Claims> {
    let issued: Vec<(Claims, String)> = (0..n).map(|i| app.issue(|t| tune(i, t))).collect();
    for chunk in issued.chunks(500) {
        let texts: Vec<&str> = chunk.iter().map(|(_, text)| text.as_str()).collect();
        let batch = app
            .post_json(
                "/v1/admin/licenses/batch",
                Some(&app.admin_key),
                &serde_json::json!({ "licenses": texts }),
            )
            .await;
        assert_eq!(batch.status, 200, "{batch:?}");
    }
    issued.into_iter().map(|(claims, _)| claims).collect()
}

/// The license ids a list page shows, in its order.
fn listed(page: &Page) -> Vec<String> {
    page.body
        .split(r#"<a href="/ui/licenses/"#)
        .skip(1)
        .filter_map(|rest| rest.split_once(r#""><code>"#).map(|(id, _)| id.to_owned()))
        .collect()
}

/// The address of the link marked `rel` ("next", "prev") on a page.
fn link(page: &Page, rel: &str) -> Option<String> {
    let marker = format!(r#"" rel="{rel}""#);
    let end = page.body.find(&marker)?;
    let start = page.body[..end].rfind(r#"href=""#)? + r#"href=""#.len();
    Some(page.body[start..end].replace("&amp;", "&"))
}

async fn staff(app: &TestApp) -> Browser<'_> {
    person(app, "dana@vendor.example", Role::SuperAdmin, None).await;
    let mut browser = Browser::new(app);
    assert_eq!(browser.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    browser
}

fn org(name: &str) -> tessera_core::claim::Org {
    name.parse().expect("org")
}

on_both_stores!(the_list_finds_by_customer_name_id_product_standing_and_end_date, |app| {
    let names = ["Acme Corp", "ACME Labs", "Globex Industries", "Initech"];
    let soon: tessera_core::UnixTime =
        tessera_core::UnixTime::from_unix(app.now().as_unix() + 10 * 86_400).expect("t");
    let claims = register_all(&app, 4, |i, t| {
        t.org = org(names[i]);
        if i == 3 {
            t.product = "initech-hub".parse().expect("product");
            t.expires_at = soon;
        }
    })
    .await;
    let id = |i: usize| claims[i].id.to_string();
    let mut dana = staff(&app).await;

    // A part of the name, whatever its case, in the URL of a GET form.
    let acme = dana.get("/ui/licenses?q=acme").await;
    assert_eq!(acme.status, 200);
    let mut found = listed(&acme);
    found.sort();
    let mut expected = vec![id(0), id(1)];
    expected.sort();
    assert_eq!(found, expected, "{}", acme.body);
    assert!(acme.body.contains("2 licenses match."), "{}", acme.body);
    assert!(acme.body.contains(r#"name="q" value="acme""#), "the form keeps the search");
    assert_eq!(listed(&dana.get("/ui/licenses?q=BEX+IND").await), vec![id(2)]);
    assert_eq!(listed(&dana.get("/ui/licenses?q=%25_%25").await), Vec::<String>::new());
    // Too short to search by: said, and the list is not filtered.
    let short = dana.get("/ui/licenses?q=ac").await;
    assert_eq!(short.status, 200);
    assert!(short.body.contains("Type at least 3 characters"), "{}", short.body);
    assert_eq!(listed(&short).len(), 4);

    assert_eq!(listed(&dana.get(&format!("/ui/licenses?id={}", id(2))).await), vec![id(2)]);
    let upper = id(2).to_ascii_uppercase();
    assert_eq!(listed(&dana.get(&format!("/ui/licenses?id={upper}")).await), vec![id(2)]);
    assert_eq!(listed(&dana.get("/ui/licenses?product=initech-hub").await), vec![id(3)]);
    assert_eq!(listed(&dana.get("/ui/licenses?ends_within=30").await), vec![id(3)]);
    assert_eq!(listed(&dana.get("/ui/licenses?ends_within=5").await), Vec::<String>::new());
    let combined = dana.get("/ui/licenses?q=corp&standing=valid&activated=false").await;
    assert_eq!(listed(&combined), vec![id(0)]);
    assert!(combined.body.contains("1 license matches."));
    assert_eq!(listed(&dana.get("/ui/licenses?standing=revoked").await), Vec::<String>::new());

    // Bad input: a 400 page that says what is wrong, never a 500.
    for (query, says) in [
        ("ends_within=soon", "Ends within takes a number of days"),
        ("ends_within=0", "Ends within takes a number of days"),
        ("sort=price", "The list sorts by customer"),
        ("dir=up", "asc or desc"),
        ("standing=great", "There is no standing"),
        ("id=not-an-id!", "hex digits and dashes"),
        ("after=zz", "start again from the first page"),
        ("q=%00acme", "control characters"),
        ("q=a&q=b", "not one the portal makes"),
    ] {
        let page = dana.get(&format!("/ui/licenses?{query}")).await;
        assert_eq!(page.status, 400, "{query}");
        assert!(page.body.contains(says), "{query}: {}", page.body);
        let csv = dana.get(&format!("/ui/licenses.csv?{query}")).await;
        assert_eq!(csv.status, 400, "{query} (CSV)");
    }
});

on_both_stores!(a_name_is_found_by_its_rare_part_and_wildcards_and_quotes_are_plain, |app| {
    // Many names share the common words: the search narrows by its rarest trigrams and then
    // checks the whole part, so both the narrowing and the check are held here.
    let mut names: Vec<String> = (0..40)
        .map(|i| format!("Systems {} GmbH", ["Alpha", "Beta", "Gamma", "Delta"][i % 4]))
        .collect();
    names.extend(
        [
            "Zyxw Systems GmbH",
            r#"100% Pure_Water "Co" O'Brien"#,
            "100 Pure Water Co",
            "Müller Systems AG",
        ]
        .map(str::to_owned),
    );
    let claims = register_all(&app, names.len(), |i, t| t.org = org(&names[i])).await;
    let id = |name: &str| {
        let i = names.iter().position(|n| n == name).expect("a name registered");
        claims[i].id.to_string()
    };
    let (rare, quoted, plain, umlaut) = (
        id("Zyxw Systems GmbH"),
        id(r#"100% Pure_Water "Co" O'Brien"#),
        id("100 Pure Water Co"),
        id("Müller Systems AG"),
    );
    let mut dana = staff(&app).await;
    let mut search = async |q: &str| {
        let encoded: String = q
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let page = dana.get(&format!("/ui/licenses?q={encoded}")).await;
        assert_eq!(page.status, 200, "{q}: {}", page.body);
        let mut found = listed(&page);
        found.sort();
        found
    };
    // Found by a part whose trigrams are mostly in every name but one.
    assert_eq!(search("ZYXW sys").await, vec![rare.clone()]);
    assert_eq!(search("xw systems g").await, vec![rare.clone()]);
    // The rare trigrams hold, the whole part does not: nothing.
    assert_eq!(search("zyxw gmbh").await, Vec::<String>::new());
    // A common word: every name that has it, and the count says so.
    assert_eq!(search("systems").await.len(), 42);
    assert_eq!(search("beta gmbh").await.len(), 10);
    // % _ ' " are characters of the name, never wildcards or quotes of the query.
    let mut both = vec![quoted.clone(), plain.clone()];
    both.sort();
    assert_eq!(search("0% P").await, vec![quoted.clone()]);
    assert_eq!(search("e_W").await, vec![quoted.clone()]);
    assert_eq!(search("e%W").await, Vec::<String>::new());
    assert_eq!(search(r#""co""#).await, vec![quoted.clone()]);
    assert_eq!(search("o'b").await, vec![quoted.clone()]);
    assert_eq!(search("' OR 1=1 --").await, Vec::<String>::new());
    assert_eq!(search("pure").await, both);
    // Letters beyond ASCII, whatever their case.
    assert_eq!(search("MÜLLER").await, vec![umlaut.clone()]);
    assert_eq!(search("üll").await, vec![umlaut]);
});

on_both_stores!(sorted_pages_walk_every_license_once_forwards_and_back, |app| {
    let start = app.now().as_unix();
    let claims = register_all(&app, 230, |i, t| {
        t.org = org(&format!("Customer {:03}", (i * 37) % 230));
        t.expires_at =
            tessera_core::UnixTime::from_unix(start + (400 + (i as i64 % 7)) * 86_400).expect("t");
    })
    .await;
    let mut dana = staff(&app).await;
    for (sort, dir) in [
        ("customer", "desc"),
        ("customer", "asc"),
        ("ends", "asc"),
        ("ends", "desc"),
        ("state", "asc"),
        ("last_ping", "desc"),
        ("", ""),
    ] {
        let mut pages: Vec<Vec<String>> = Vec::new();
        let mut at = Some(format!("/ui/licenses?sort={sort}&dir={dir}"));
        while let Some(path) = at {
            let page = dana.get(&path).await;
            assert_eq!(page.status, 200, "{path}");
            assert!(page.body.contains("230 licenses match."), "{path}");
            pages.push(listed(&page));
            at = link(&page, "next");
            assert_eq!(link(&page, "prev").is_some(), pages.len() > 1, "{path}");
            assert!(pages.len() <= 3, "{sort} {dir}: more pages than licenses");
        }
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 30], "{sort}");
        let walked: Vec<&String> = pages.iter().flatten().collect();
        let unique: std::collections::BTreeSet<_> = walked.iter().collect();
        assert_eq!(unique.len(), 230, "{sort} {dir}: a license repeated or skipped");
        // In the order asked for.
        let rows: Vec<tessera_portal::domain::licenses::LicenseRow> = {
            let mut rows = Vec::new();
            for id in &walked {
                rows.push(app.portal.store.license(id).await.expect("db").expect("row"));
            }
            rows
        };
        let keys: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                let key = match sort {
                    "customer" => r.org.clone(),
                    "ends" => format!("{:012}", r.expires_at),
                    _ => String::new(),
                };
                (key, r.id.clone())
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        if dir == "desc" {
            sorted.reverse();
        }
        if matches!(sort, "customer" | "ends" | "") {
            assert_eq!(keys, sorted, "{sort} {dir}");
        }
        // Back from the last page: the same pages, in the same order.
        let mut page = dana.get(&format!("/ui/licenses?sort={sort}&dir={dir}")).await;
        for _ in 1..pages.len() {
            page = dana.get(&link(&page, "next").expect("next")).await;
        }
        for expected in pages.iter().rev().skip(1) {
            let back = link(&page, "prev").expect("a previous page");
            assert!(back.contains(&format!("sort={sort}")) || sort.is_empty(), "{back}");
            page = dana.get(&back).await;
            assert_eq!(&listed(&page), expected, "{sort} {dir}: back to {back}");
        }
        assert!(link(&page, "prev").is_none(), "{sort} {dir}: nothing before the first page");
    }
    assert_eq!(claims.len(), 230);
});

on_both_stores!(the_csv_has_the_filtered_list_and_formulas_as_text, |app| {
    let names = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd", "Acme, \"Corp\"", "Globex"];
    let claims = register_all(&app, 4, |i, t| t.org = org(names[i])).await;
    let mut dana = staff(&app).await;
    let all = dana.get("/ui/licenses.csv?sort=customer").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.headers["content-type"], "text/csv; charset=utf-8");
    assert!(all.headers["content-disposition"].to_str().expect("text").contains("licenses.csv"));
    let lines: Vec<&str> = all.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "license,customer,product,standing,ends,last_validation,bound");
    assert_eq!(lines.len(), 5, "{}", all.body);
    // Sorted by customer: "+cmd" < "=HYP…" < "Acme…" < "Globex".
    let id = |i: usize| claims[i].id.to_string();
    assert!(lines[1].starts_with(&format!("{},'+cmd,acme-hub,valid,", id(1))), "{}", lines[1]);
    assert!(
        lines[2].starts_with(&format!(
            "{},\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",",
            id(0)
        )),
        "{}",
        lines[2]
    );
    assert!(lines[3].starts_with(&format!("{},\"Acme, \"\"Corp\"\"\",", id(2))), "{}", lines[3]);
    assert!(lines[4].ends_with(",no"), "{}", lines[4]);
    // The monthly usage download too: "+cmd" pinged once, written as text.
    let mut hub = crate::helpers::TestHub::new("cmd-hub", &app);
    hub.activate(&app, &claims[1]).await;
    hub.ping(&app, &claims[1]).await;
    let usage = dana.get("/ui/usage.csv").await;
    assert_eq!(usage.status, 200);
    assert!(usage.body.contains(&format!("{},'+cmd,acme-hub,", id(1))), "{}", usage.body);
    // The same filters as the list.
    let one = dana.get("/ui/licenses.csv?q=glob").await;
    assert_eq!(one.body.lines().count(), 2, "{}", one.body);
    assert!(one.body.contains(&id(3)));
    // The list links to its own download, filters and all.
    let list = dana.get("/ui/licenses?q=glob&sort=ends&dir=desc").await;
    assert!(
        list.body.contains(r#"href="/ui/licenses.csv?q=glob&amp;sort=ends&amp;dir=desc""#),
        "{}",
        list.body
    );
});

on_both_stores!(an_org_admin_finds_and_downloads_only_their_own_organizations_licenses, |app| {
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    accounts::create_organization(&app.portal.store, "Acme Rival", app.now()).await.expect("org");
    let claims = register_all(&app, 4, |i, t| {
        t.org = org(if i % 2 == 0 { "Acme Corp" } else { "Acme Rival" })
    })
    .await;
    let (own, other): (Vec<_>, Vec<_>) =
        claims.iter().map(|c| c.id.to_string()).enumerate().partition(|(i, _)| i % 2 == 0);
    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    let mut ops = Browser::new(&app);
    assert_eq!(ops.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    for path in [
        "/ui/licenses?q=acme".to_owned(),
        "/ui/licenses?q=rival".to_owned(),
        format!("/ui/licenses?id={}", other[0].1),
        "/ui/licenses?sort=customer&dir=desc".to_owned(),
        format!("/ui/licenses?after={}", other[0].1),
    ] {
        let page = ops.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        let shown = listed(&page);
        for (_, id) in &other {
            assert!(!shown.contains(id), "{path} shows another organization's license");
        }
    }
    let mine = ops.get("/ui/licenses?q=acme").await;
    assert!(mine.body.contains("2 licenses match."), "{}", mine.body);
    for (_, id) in &own {
        assert!(mine.body.contains(id.as_str()));
    }
    for path in ["/ui/licenses.csv", "/ui/licenses.csv?q=rival", "/ui/usage.csv?q=acme"] {
        let csv = ops.get(path).await;
        assert_eq!(csv.status, 200, "{path}");
        for (_, id) in &other {
            assert!(!csv.body.contains(id.as_str()), "{path} holds another organization's license");
        }
    }
    let csv = ops.get("/ui/licenses.csv").await;
    assert_eq!(csv.body.lines().count(), 3, "{}", csv.body);
});

on_both_stores!(the_dashboards_cards_link_to_the_lists_they_count, |app| {
    let soon = tessera_core::UnixTime::from_unix(app.now().as_unix() + 20 * 86_400).expect("t");
    let claims = register_all(&app, 3, |i, t| {
        if i == 0 {
            t.expires_at = soon;
        }
        t.grace_period = Duration::from_secs(86_400);
    })
    .await;
    let mut dana = staff(&app).await;
    let dashboard = dana.get("/ui").await;
    for href in [
        "/ui/licenses?standing=valid",
        "/ui/licenses?standing=valid&amp;ends_within=30",
        "/ui/licenses?silent=past_grace",
    ] {
        assert!(dashboard.body.contains(&format!(r#"href="{href}""#)), "{href}");
    }
    let ending = dana.get("/ui/licenses?standing=valid&ends_within=30").await;
    assert_eq!(listed(&ending), vec![claims[0].id.to_string()]);
    assert!(ending.body.contains("1 license matches."));
    // A bound hub silent past its grace period is on the list its card counts.
    let mut hub = crate::helpers::TestHub::new("quiet", &app);
    hub.activate(&app, &claims[1]).await;
    assert_eq!(listed(&dana.get("/ui/licenses?silent=past_grace").await), Vec::<String>::new());
    app.clock.advance(Duration::from_secs(2 * 86_400));
    let mut dana = Browser::new(&app);
    assert_eq!(dana.sign_in("dana@vendor.example", PASSWORD).await.status, 303);
    let silent = dana.get("/ui/licenses?silent=past_grace").await;
    assert_eq!(listed(&silent), vec![claims[1].id.to_string()], "{}", silent.body);
});

/// The license ids a search by name finds, sorted (the first page: at most 100).
async fn found_by_name(browser: &mut Browser<'_>, q: &str) -> Vec<String> {
    let page = browser.get(&format!("/ui/licenses?q={}", q.replace(' ', "+"))).await;
    assert_eq!(page.status, 200, "{q}: {}", page.body);
    let mut found = listed(&page);
    found.sort();
    found
}

/// Whether the name index holds `name` (exactly, case and all).
async fn indexed(app: &TestApp, name: &str) -> bool {
    let rows = sqlx::query("SELECT org FROM customer_names WHERE org = $1")
        .bind(name)
        .fetch_all(app.portal.store.pool())
        .await
        .expect("customer_names");
    !rows.is_empty()
}

on_both_stores!(a_name_leaves_the_search_with_its_last_license_renamed_or_deleted, |app| {
    // Licenses 0 and 1 end in 2028 (the helper's default), the others terminate in 2030.
    let names = ["Old Acme", "ACME CORP", "Acme Corp", "acme corp", "Initech"];
    let claims = register_all(&app, names.len(), |i, t| {
        t.org = org(names[i]);
        if i >= 2 {
            t.terminates_at = Some("2030-06-01T00:00:00Z".parse().expect("t"));
        }
    })
    .await;
    let id = |i: usize| claims[i].id.to_string();
    let ids = |of: &[usize]| {
        let mut ids: Vec<String> = of.iter().map(|&i| id(i)).collect();
        ids.sort();
        ids
    };
    let mut dana = staff(&app).await;
    // Names differing only in case are names of their own, each found whatever the case.
    assert_eq!(found_by_name(&mut dana, "acme corp").await, ids(&[1, 2, 3]));
    assert_eq!(found_by_name(&mut dana, "ACME").await, ids(&[0, 1, 2, 3]));
    for name in names {
        assert!(indexed(&app, name).await, "{name}");
    }

    // Renamed (no path of the portal renames a license today; the index follows whoever
    // writes the column): the old name goes with its only license, the new one is found.
    let rename = async |i: usize, to: &str| {
        sqlx::query("UPDATE licenses SET org = $1 WHERE id = $2")
            .bind(to)
            .bind(id(i))
            .execute(app.portal.store.pool())
            .await
            .expect("rename");
    };
    rename(4, "Initrode Acme").await;
    assert_eq!(found_by_name(&mut dana, "initech").await, Vec::<String>::new());
    assert_eq!(found_by_name(&mut dana, "initrode").await, ids(&[4]));
    assert!(!indexed(&app, "Initech").await);

    // Deleted when their contracts ended long ago (the retention job's own call): the last
    // license of "Old Acme" and of "ACME CORP"; "Acme Corp" and "acme corp" keep theirs.
    let after_2028 = 1_861_920_000; // 2029-01-01
    assert_eq!(app.portal.store.delete_ended_licenses(after_2028).await.expect("purge"), 2);
    assert_eq!(found_by_name(&mut dana, "old acme").await, Vec::<String>::new());
    assert_eq!(found_by_name(&mut dana, "acme corp").await, ids(&[2, 3]));
    assert!(!indexed(&app, "Old Acme").await);
    assert!(!indexed(&app, "ACME CORP").await);
    assert!(indexed(&app, "Acme Corp").await && indexed(&app, "acme corp").await);
    let page = dana.get("/ui/licenses?q=acme").await;
    assert!(page.body.contains("3 licenses match."), "{}", page.body);

    // Renamed to a name that differs only in case: one name left, both licenses under it.
    rename(3, "Acme Corp").await;
    assert_eq!(found_by_name(&mut dana, "acme corp").await, ids(&[2, 3]));
    assert!(!indexed(&app, "acme corp").await);
    assert!(indexed(&app, "Acme Corp").await);
});

on_both_stores!(an_org_admins_search_never_shows_another_organizations_license, |app| {
    let acme = accounts::create_organization(&app.portal.store, "Acme Corp", app.now())
        .await
        .expect("org");
    let rival = accounts::create_organization(&app.portal.store, "Acme Rival", app.now())
        .await
        .expect("org");
    // Licenses 0-2 name "Acme Corp" and belong to it; 3 names "Acme Rival"; 4 names "Acme
    // Corp" too but is moved to the rival: the same name, another organization.
    let names = ["Acme Corp", "Acme Corp", "Acme Corp", "Acme Rival", "Acme Corp"];
    let claims = register_all(&app, names.len(), |i, t| t.org = org(names[i])).await;
    let id = |i: usize| claims[i].id.to_string();
    app.portal.store.assign_license(&id(4), Some(&rival.id)).await.expect("assign");
    person(&app, "ops@acme.example", Role::OrgAdmin, Some(&acme.id)).await;
    let mut ops = Browser::new(&app);
    assert_eq!(ops.sign_in("ops@acme.example", PASSWORD).await.status, 303);
    let mut own = vec![id(0), id(1), id(2)];
    own.sort();
    for q in ["acme", "acme corp", "ACME CORP", "corp"] {
        assert_eq!(found_by_name(&mut ops, q).await, own, "{q}");
    }
    assert_eq!(found_by_name(&mut ops, "rival").await, Vec::<String>::new());
    let page = ops.get("/ui/licenses?q=acme+corp&sort=customer&dir=desc").await;
    assert!(page.body.contains("3 licenses match."), "{}", page.body);
    // Another organization's license as a page cursor tells nothing: the page is the one a
    // made-up id gives (its end date is not placed among Acme's).
    for dir in ["asc", "desc"] {
        let page = |after: String| format!("/ui/licenses?sort=ends&dir={dir}&after={after}");
        let rivals = ops.get(&page(id(4))).await;
        let made_up = ops.get(&page("0190a3c4-0000-7000-8000-000000000000".to_owned())).await;
        assert_eq!(rivals.status, made_up.status);
        for i in 0..3 {
            assert!(!rivals.body.contains(&id(i)), "{dir}: {}", rivals.body);
        }
    }
    // The staff see all four of the name.
    let mut dana = staff(&app).await;
    assert_eq!(found_by_name(&mut dana, "acme corp").await.len(), 4);
});

on_both_stores!(paging_through_a_search_reaches_every_match_once, |app| {
    // 1,010 names of one pattern ("match co 0" is in 1,000 of them, "match co" in all) and
    // 40 licenses of another name, issued among them.
    let claims = register_all(&app, 1050, |i, t| {
        t.org = org(&if i % 26 == 25 {
            "Other Industries".to_owned()
        } else {
            format!("Match Co {:04}", i - i / 26)
        });
    })
    .await;
    let name_of = |i: usize| claims[i].org.to_string();
    let mut dana = staff(&app).await;
    for (q, in_names) in [("match co 0", "Match Co 0"), ("MATCH CO", "Match Co")] {
        let mut expected: Vec<String> = (0..claims.len())
            .filter(|&i| name_of(i).starts_with(in_names))
            .map(|i| claims[i].id.to_string())
            .collect();
        expected.sort();
        assert_eq!(expected.len(), if in_names.ends_with('0') { 1000 } else { 1010 });
        for (sort, dir) in [("", ""), ("customer", "desc"), ("ends", "asc")] {
            let first = format!("/ui/licenses?q={}&sort={sort}&dir={dir}", q.replace(' ', "+"));
            let mut pages: Vec<Vec<String>> = Vec::new();
            let mut at = Some(first.clone());
            while let Some(path) = at {
                let page = dana.get(&path).await;
                assert_eq!(page.status, 200, "{path}");
                pages.push(listed(&page));
                at = link(&page, "next");
                assert!(pages.len() <= 11, "{q} {sort}: more pages than matches");
            }
            let mut walked: Vec<String> = pages.iter().flatten().cloned().collect();
            walked.sort();
            assert_eq!(walked, expected, "{q} {sort} {dir}: a match repeated or missed");
            // Back from the last page: the same pages.
            let mut page = dana.get(&first).await;
            for _ in 1..pages.len() {
                page = dana.get(&link(&page, "next").expect("next")).await;
            }
            for expected in pages.iter().rev().skip(1) {
                page = dana.get(&link(&page, "prev").expect("a previous page")).await;
                assert_eq!(&listed(&page), expected, "{q} {sort} {dir}: back");
            }
        }
    }
});
