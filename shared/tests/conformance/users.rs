//! Conformance cases for the users store.

use banter::ids::UserId;
use banter::model::{AccountStatus, PasswordHash, User};
use banter::store::*;
use banter::time::now;

fn user(username: &str, display_name: &str) -> User {
    let t = now();
    User {
        user_id: UserId::new(),
        username: username.to_owned(),
        display_name: display_name.to_owned(),
        email: Some(format!("{}@example.com", username.to_lowercase())),
        avatar_url: None,
        status_message: Some("Available".into()),
        reputation_score: 7,
        account_status: AccountStatus::Active,
        password_hash: PasswordHash("$argon2id$v=19$test".into()),
        created_at: t,
        updated_at: t,
        last_active_at: None,
        version: 1,
        privacy_settings: Default::default(),
    }
}

/// Reads every page of a search; checks each page's size.
async fn search_all(stores: &Stores, prefix: &str, limit: usize) -> (Vec<User>, usize) {
    crate::read_pages("search", limit, 50, |cursor| async move {
        stores
            .users
            .search_users(prefix, limit, cursor.as_ref())
            .await
    })
    .await
}

fn ids(users: &[User]) -> Vec<UserId> {
    users.iter().map(|u| u.user_id).collect()
}

async fn create_and_get_user(stores: Stores) {
    let u = user("Alice_1", "Alice Liddell");
    stores.users.create_user(&u).await.unwrap();

    assert_eq!(
        stores.users.get_user(u.user_id).await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        stores.users.get_user_by_username("alice_1").await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        stores.users.get_user_by_username("ALICE_1").await.unwrap(),
        Some(u.clone())
    );
    assert_eq!(
        stores.users.get_user_by_username("alice").await.unwrap(),
        None
    );
    assert_eq!(stores.users.get_user(UserId::new()).await.unwrap(), None);
}

async fn duplicate_username_conflicts(stores: Stores) {
    let first = user("Bob.Smith", "Bob");
    stores.users.create_user(&first).await.unwrap();
    let second = user("bOB.smith", "Impostor");
    assert_eq!(
        stores.users.create_user(&second).await,
        Err(StoreError::Conflict("username_taken"))
    );
    assert_eq!(
        stores
            .users
            .get_user_by_username("bob.smith")
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        stores.users.get_user(first.user_id).await.unwrap(),
        Some(first)
    );
    assert_eq!(stores.users.get_user(second.user_id).await.unwrap(), None);
    // The failed registration left no search entry behind.
    let (found, _) = search_all(&stores, "impostor", 10).await;
    assert!(found.is_empty());
}

async fn update_user_is_optimistic(stores: Stores) {
    let u = user("carol", "Carol Old");
    stores.users.create_user(&u).await.unwrap();

    let mut v2 = u.clone();
    v2.version = 2;
    v2.display_name = "Caroline New".into();
    v2.status_message = None;
    v2.reputation_score = 42;
    stores.users.update_user(&v2).await.unwrap();
    assert_eq!(
        stores.users.get_user(u.user_id).await.unwrap(),
        Some(v2.clone())
    );

    // Stale version: refused, nothing changes.
    let mut stale = u.clone();
    stale.version = 2;
    stale.display_name = "Lost Update".into();
    assert_eq!(
        stores.users.update_user(&stale).await,
        Err(StoreError::Conflict("version"))
    );
    let mut skipped = v2.clone();
    skipped.version = 4;
    assert_eq!(
        stores.users.update_user(&skipped).await,
        Err(StoreError::Conflict("version"))
    );
    assert_eq!(
        stores.users.get_user(u.user_id).await.unwrap(),
        Some(v2.clone())
    );

    // The username never changes.
    let mut renamed = v2.clone();
    renamed.version = 3;
    renamed.username = "mallory".into();
    stores.users.update_user(&renamed).await.unwrap();
    let stored = stores.users.get_user(u.user_id).await.unwrap().unwrap();
    assert_eq!(stored.username, "carol");
    assert_eq!(stored.version, 3);
    assert_eq!(
        stores.users.get_user_by_username("mallory").await.unwrap(),
        None
    );

    // Search follows the new display name.
    assert_eq!(
        ids(&search_all(&stores, "caroline", 10).await.0),
        [u.user_id]
    );
    assert!(search_all(&stores, "carol old", 10).await.0.is_empty());

    // Unknown user.
    let mut ghost = user("ghost", "Ghost");
    ghost.version = 2;
    assert_eq!(
        stores.users.update_user(&ghost).await,
        Err(StoreError::NotFound)
    );
}

async fn get_users_batch(stores: Stores) {
    let a = user("dave", "Dave");
    let b = user("erin", "Erin");
    let c = user("frank", "Frank");
    for u in [&a, &b, &c] {
        stores.users.create_user(u).await.unwrap();
    }
    let mut got = stores
        .users
        .get_users(&[a.user_id, b.user_id, UserId::new(), a.user_id])
        .await
        .unwrap();
    got.sort_by_key(|u| u.user_id);
    let mut want = vec![a, b];
    want.sort_by_key(|u| u.user_id);
    assert_eq!(got, want);
    assert!(stores.users.get_users(&[]).await.unwrap().is_empty());
}

async fn search_users_by_prefix(stores: Stores) {
    // Matches for "ze", by name: zebra (username), "zed one"/zed_one (both names: once),
    // "zelda fan" (display name), zephyr (username, stored upper case), "zeta carl" (display).
    let zebra = user("zebra", "Stripes");
    let zed = user("zed_one", "Zed One");
    let bob = user("bob_z", "Zelda Fan");
    let zephyr = user("ZEPHYR", "Wind");
    let carl = user("carl", "zeta carl");
    let others = [
        user("zzz", "Sleepy"),
        user("ann", "Ann"),
        user("ezekiel", "E"),
    ];
    for u in [&zebra, &zed, &bob, &zephyr, &carl]
        .into_iter()
        .chain(&others)
    {
        stores.users.create_user(u).await.unwrap();
    }

    let (found, pages) = search_all(&stores, "ZE", 2).await;
    assert_eq!(
        ids(&found),
        ids(&[
            zebra.clone(),
            zed.clone(),
            bob.clone(),
            zephyr.clone(),
            carl.clone()
        ])
    );
    assert!(pages >= 3, "5 matches over pages of 2 took {pages} pages");
    assert_eq!(found[1], zed);

    // One page holding everything.
    let page = stores.users.search_users("ze", 10, None).await.unwrap();
    assert_eq!(page.items.len(), 5);
    assert_eq!(page.next, None);

    assert_eq!(ids(&search_all(&stores, "zel", 1).await.0), [bob.user_id]);
    assert_eq!(
        ids(&search_all(&stores, "Zebra", 1).await.0),
        [zebra.user_id]
    );
    assert_eq!(
        ids(&search_all(&stores, "zeta c", 3).await.0),
        [carl.user_id]
    );
    assert_eq!(ids(&search_all(&stores, "Wi", 3).await.0), [zephyr.user_id]);
    assert!(search_all(&stores, "q", 3).await.0.is_empty());
    let empty = stores.users.search_users("", 5, None).await.unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.next, None);
}

async fn search_rejects_invalid_cursors(stores: Stores) {
    for name in ["zoe", "zack", "zara"] {
        stores.users.create_user(&user(name, name)).await.unwrap();
    }
    let page = stores.users.search_users("z", 1, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let next = page.next.expect("more matches follow");

    assert_eq!(
        stores.users.search_users("a", 1, Some(&next)).await,
        Err(StoreError::InvalidCursor)
    );
    assert_eq!(
        stores
            .users
            .search_users("z", 1, Some(&Cursor("not a cursor!".into())))
            .await,
        Err(StoreError::InvalidCursor)
    );
    assert_eq!(
        stores
            .users
            .search_users("z", 1, Some(&Cursor("e30".into())))
            .await,
        Err(StoreError::InvalidCursor)
    );
    // The real cursor still works.
    let rest = stores
        .users
        .search_users("z", 5, Some(&next))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 2);
}

/// `u` with `email`.
fn with_email(u: User, email: Option<&str>) -> User {
    User {
        email: email.map(str::to_owned),
        ..u
    }
}

async fn emails_are_unique_in_any_case(stores: Stores) {
    let ada = with_email(user("ada_l", "Ada"), Some("Ada@Example.com"));
    stores.users.create_user(&ada).await.unwrap();
    for email in ["ada@example.com", "ADA@EXAMPLE.COM", " Ada@Example.com "] {
        assert_eq!(
            stores.users.get_user_by_email(email).await.unwrap(),
            Some(ada.clone()),
            "{email}"
        );
    }
    assert_eq!(
        stores
            .users
            .get_user_by_email("ada@example.org")
            .await
            .unwrap(),
        None
    );
    // Another account with the same address in another case is refused, and nothing of it
    // is stored (its username stays free).
    let copy = with_email(user("ada_2", "Copy"), Some("ADA@example.COM"));
    assert_eq!(
        stores.users.create_user(&copy).await,
        Err(StoreError::Conflict("email_taken"))
    );
    assert_eq!(stores.users.get_user(copy.user_id).await.unwrap(), None);
    assert_eq!(
        stores.users.get_user_by_username("ada_2").await.unwrap(),
        None
    );
    // A taken username is reported as such even when the email is taken too.
    let both = with_email(user("ADA_L", "Both"), Some("ada@example.com"));
    assert_eq!(
        stores.users.create_user(&both).await,
        Err(StoreError::Conflict("username_taken"))
    );
    // Accounts without an email never collide on it.
    for name in ["nomail_1", "nomail_2"] {
        let u = with_email(user(name, name), None);
        stores.users.create_user(&u).await.unwrap();
        assert_eq!(stores.users.get_user(u.user_id).await.unwrap(), Some(u));
    }
}

async fn changing_the_email_moves_its_claim(stores: Stores) {
    let ada = with_email(user("ada_l", "Ada"), Some("ada@example.com"));
    let grace = with_email(user("grace_h", "Grace"), Some("grace@example.com"));
    stores.users.create_user(&ada).await.unwrap();
    stores.users.create_user(&grace).await.unwrap();
    let next = |u: &User, email: Option<&str>| User {
        version: u.version + 1,
        ..with_email(u.clone(), email)
    };
    // Another account's address, in another case: refused, nothing changes.
    assert_eq!(
        stores
            .users
            .update_user(&next(&ada, Some("Grace@Example.com")))
            .await,
        Err(StoreError::Conflict("email_taken"))
    );
    assert_eq!(
        stores.users.get_user(ada.user_id).await.unwrap(),
        Some(ada.clone())
    );
    // Her own in another case: kept.
    let recased = next(&ada, Some("ADA@example.com"));
    stores.users.update_user(&recased).await.unwrap();
    assert_eq!(
        stores
            .users
            .get_user_by_email("ada@example.com")
            .await
            .unwrap(),
        Some(recased.clone())
    );
    // A new address: claimed, the old one freed for anyone.
    let moved = next(&recased, Some("ada@example.org"));
    stores.users.update_user(&moved).await.unwrap();
    assert_eq!(
        stores
            .users
            .get_user_by_email("ADA@example.org")
            .await
            .unwrap(),
        Some(moved.clone())
    );
    assert_eq!(
        stores
            .users
            .get_user_by_email("ada@example.com")
            .await
            .unwrap(),
        None
    );
    let taker = with_email(user("taker", "Taker"), Some("ada@example.com"));
    stores.users.create_user(&taker).await.unwrap();
    // A stale version changes neither the profile nor the claims.
    assert_eq!(
        stores
            .users
            .update_user(&next(&ada, Some("stale@example.com")))
            .await,
        Err(StoreError::Conflict("version"))
    );
    assert_eq!(
        stores
            .users
            .get_user_by_email("stale@example.com")
            .await
            .unwrap(),
        None
    );
    // Removing it frees it.
    let removed = next(&moved, None);
    stores.users.update_user(&removed).await.unwrap();
    assert_eq!(
        stores
            .users
            .get_user_by_email("ada@example.org")
            .await
            .unwrap(),
        None
    );
    let again = next(&removed, Some("ada@example.org"));
    stores.users.update_user(&again).await.unwrap();
    assert_eq!(
        stores
            .users
            .get_user_by_email("ada@example.org")
            .await
            .unwrap(),
        Some(again)
    );
}

conformance_tests!(
    create_and_get_user,
    duplicate_username_conflicts,
    emails_are_unique_in_any_case,
    changing_the_email_moves_its_claim,
    update_user_is_optimistic,
    get_users_batch,
    search_users_by_prefix,
    search_rejects_invalid_cursors,
);
