//! How replicas of an opinion converge. Every editable field is its own last-writer-wins register
//! stamped with the writing mutation's [`Hlc`]: two deputies who fix different fields of the same
//! opinion offline both keep their fix. One clock per record would throw away whichever edit
//! came second even though nobody contested it (locorda/sync-engine#61).
//!
//! [`apply`] is idempotent and commutative: any replica that has applied the same set of
//! mutations, in any order and with any repeats, holds the same state. The server relies on that
//! when it applies pushes from many tablets in whatever order they arrive.
//!
//! The rules:
//!
//! - **A register takes a write whose stamp is greater than or equal to its own.** Stamps are
//!   unique per mutation (the node is the writing client, whose clock never repeats a stamp, and
//!   the server's [`clamp`](crate::sync::hlc::clamp) keeps each client's stored stamps strictly
//!   increasing), so "equal" only happens when the same mutation is applied again. Within one
//!   mutation that sets a field twice, the last value listed wins.
//! - **Creation is a register too.** The opinion as captured is kept with its stamp; a field
//!   register overrides the captured value when its stamp is at least the creation's. Edits that
//!   arrive before their creation wait in their registers, and the record appears once the
//!   creation arrives.
//! - **A delete is final.** A tombstone hides the record from every replica that has it, and
//!   creations and edits applied after it are ignored, whatever their stamps. An edit stamped
//!   after the delete comes from a tablet that had not seen the delete (a tablet that had seen it
//!   no longer shows the record), so it is concurrent with it, and resurrecting a record someone
//!   deliberately deleted, with only the fields that tablet touched, is worse than losing that
//!   edit; the server rejects such an edit with [`RejectCode::Deleted`](crate::sync::RejectCode),
//!   so the deputy is told rather than left guessing. The tombstone keeps only the id and the
//!   greatest delete stamp: the personal data goes with the record.
//!
//! - **Follow-up steps are appended, in the order the server took them.** They are a history,
//!   not registers: each step was checked against the lifecycle as it stood when the server
//!   took it ([`crate::followup::lifecycle`]), so the server's order is the only order in which
//!   they make sense. Applying a step again changes nothing (steps have ids). Only the server
//!   appends to the replica it stores; a tablet shows its own unsynced steps on top of the
//!   server's copy and never merges.
//!
//! On the tablet, the copy of a record the user sees is the server's state (from a pull) with
//! the outbox's unacknowledged mutations applied on top, rebuilt whenever either changes. The
//! tablet must not merge a pulled state into its own copy: when the server clamped one of this
//! tablet's stamps, its own copy still holds the unclamped stamp, which would keep winning.

use crate::citizen::Citizen;
use crate::followup::{FollowUp, Lifecycle};
use crate::ids::OpinionId;
use crate::opinion::{Opinion, Outcome};
use crate::sync::hlc::Hlc;
use crate::sync::protocol::{Mutation, MutationKind, OpinionFieldValue};
use serde::{Deserialize, Serialize};

/// A last-writer-wins register: a value and the stamp of the write that set it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lww<T> {
    pub stamp: Hlc,
    pub value: T,
}

/// Writes `value` into `slot` if `stamp` is at least the register's; tells whether anything
/// changed.
fn write<T: Clone + PartialEq>(slot: &mut Option<Lww<T>>, stamp: Hlc, value: &T) -> bool {
    match slot {
        Some(reg) if reg.stamp > stamp => false,
        Some(reg) if reg.stamp == stamp && reg.value == *value => false,
        _ => {
            *slot = Some(Lww {
                stamp,
                value: value.clone(),
            });
            true
        }
    }
}

/// One opinion as a replica holds it: what is needed to merge further mutations, not only what
/// is shown. The server stores it (and sends it in pulls); [`Self::opinion`] gives the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpinionReplica {
    id: OpinionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleted: Option<Hlc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<Lww<Opinion>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    category: Option<Lww<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    summary: Option<Lww<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    details: Option<Lww<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    place: Option<Lww<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    on_site_reply: Option<Lww<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<Lww<Outcome>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    citizen: Option<Lww<Citizen>>,
    /// The follow-up history, in the order the server took the steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    steps: Vec<Lww<FollowUp>>,
}

impl OpinionReplica {
    /// The replica with the citizen [masked](Citizen::masked) in the opinion as created and in
    /// any later edit of it: what a tablet stores of a record it pulled.
    pub fn with_citizen_masked(mut self) -> OpinionReplica {
        if let Some(created) = &mut self.created {
            created.value.citizen = created.value.citizen.masked();
        }
        if let Some(citizen) = &mut self.citizen {
            citizen.value = citizen.value.masked();
        }
        self
    }

    /// A replica that has seen nothing about `id` yet.
    pub fn new(id: OpinionId) -> Self {
        OpinionReplica {
            id,
            deleted: None,
            created: None,
            category: None,
            summary: None,
            details: None,
            place: None,
            on_site_reply: None,
            outcome: None,
            citizen: None,
            steps: Vec::new(),
        }
    }

    pub fn id(&self) -> OpinionId {
        self.id
    }

    /// The stamp of the delete, once deleted.
    pub fn deleted(&self) -> Option<Hlc> {
        self.deleted
    }

    /// The opinion as captured, without later edits; `None` until the creation arrives.
    pub fn created(&self) -> Option<&Opinion> {
        self.created.as_ref().map(|r| &r.value)
    }

    /// True once the creation has arrived, even if the record was deleted since.
    pub fn exists(&self) -> bool {
        self.created.is_some() || self.deleted.is_some()
    }

    /// The record as users see it: the opinion as captured with every later field edit on top.
    /// `None` when deleted, or when only edits have arrived so far.
    pub fn opinion(&self) -> Option<Opinion> {
        if self.deleted.is_some() {
            return None;
        }
        let created = self.created.as_ref()?;
        let mut opinion = created.value.clone();
        let since = created.stamp;
        overlay(&mut opinion.category, &self.category, since);
        overlay(&mut opinion.summary, &self.summary, since);
        overlay(&mut opinion.details, &self.details, since);
        overlay(&mut opinion.place, &self.place, since);
        overlay(&mut opinion.on_site_reply, &self.on_site_reply, since);
        overlay(&mut opinion.outcome, &self.outcome, since);
        overlay(&mut opinion.citizen, &self.citizen, since);
        Some(opinion)
    }

    /// The follow-up steps, oldest first.
    pub fn steps(&self) -> impl Iterator<Item = &FollowUp> {
        self.steps.iter().map(|r| &r.value)
    }

    /// Where the item stands: its intake decision with every step replayed. `None` while the
    /// record is not shown ([`Self::opinion`]).
    pub fn lifecycle(&self) -> Option<Lifecycle> {
        let opinion = self.opinion()?;
        Some(Lifecycle::replay(&opinion.outcome, self.steps()))
    }

    /// The greatest stamp in the state. The tablet passes it to
    /// [`Clock::observe`](crate::sync::hlc::Clock::observe) after a pull, so its next edit of the
    /// record sorts after everything it has seen.
    pub fn last_stamp(&self) -> Option<Hlc> {
        [
            self.deleted,
            self.created.as_ref().map(|r| r.stamp),
            self.category.as_ref().map(|r| r.stamp),
            self.summary.as_ref().map(|r| r.stamp),
            self.details.as_ref().map(|r| r.stamp),
            self.place.as_ref().map(|r| r.stamp),
            self.on_site_reply.as_ref().map(|r| r.stamp),
            self.outcome.as_ref().map(|r| r.stamp),
            self.citizen.as_ref().map(|r| r.stamp),
            self.steps.iter().map(|r| r.stamp).max(),
        ]
        .into_iter()
        .flatten()
        .max()
    }

    /// Applies a mutation; see [`apply`].
    pub fn apply(&mut self, mutation: &Mutation) -> bool {
        apply(self, mutation)
    }

    fn set(&mut self, value: &OpinionFieldValue, stamp: Hlc) -> bool {
        match value {
            OpinionFieldValue::Category(v) => write(&mut self.category, stamp, v),
            OpinionFieldValue::Summary(v) => write(&mut self.summary, stamp, v),
            OpinionFieldValue::Details(v) => write(&mut self.details, stamp, v),
            OpinionFieldValue::Place(v) => write(&mut self.place, stamp, v),
            OpinionFieldValue::OnSiteReply(v) => write(&mut self.on_site_reply, stamp, v),
            OpinionFieldValue::Outcome(v) => write(&mut self.outcome, stamp, v),
            OpinionFieldValue::Citizen(v) => write(&mut self.citizen, stamp, v),
        }
    }

    fn has_content(&self) -> bool {
        self.created.is_some()
            || self.category.is_some()
            || self.summary.is_some()
            || self.details.is_some()
            || self.place.is_some()
            || self.on_site_reply.is_some()
            || self.outcome.is_some()
            || self.citizen.is_some()
            || !self.steps.is_empty()
    }
}

fn overlay<T: Clone>(target: &mut T, register: &Option<Lww<T>>, since: Hlc) {
    if let Some(reg) = register
        && reg.stamp >= since
    {
        *target = reg.value.clone();
    }
}

/// Applies one mutation to a replica under the rules in the module docs, and tells whether the
/// state changed (the server emits a change, the tablet redraws). Pure, idempotent and
/// commutative. A mutation about another opinion changes nothing.
///
/// `apply` merges; it does not judge. Whether a mutation is allowed and valid is decided before,
/// by the server ([`validate_mutation`](crate::sync::validate_mutation) and its own
/// authorisation), and a refused mutation is never applied.
pub fn apply(state: &mut OpinionReplica, mutation: &Mutation) -> bool {
    if mutation.kind.opinion_id() != Some(state.id) {
        return false;
    }
    let stamp = mutation.hlc;
    if let MutationKind::DeleteOpinion { .. } = mutation.kind {
        let deleted = state.deleted.map_or(stamp, |d| d.max(stamp));
        let changed = state.deleted != Some(deleted) || state.has_content();
        *state = OpinionReplica {
            deleted: Some(deleted),
            ..OpinionReplica::new(state.id)
        };
        return changed;
    }
    if state.deleted.is_some() {
        return false;
    }
    match &mutation.kind {
        MutationKind::CreateOpinion { opinion } => write(&mut state.created, stamp, &**opinion),
        MutationKind::SetOpinionFields { fields, .. } => {
            // The last value listed for a field wins; write each field once so that the
            // answer to "did anything change" is about the end result.
            let mut changed = false;
            for (i, value) in fields.iter().enumerate() {
                let overridden = fields[i + 1..]
                    .iter()
                    .any(|later| std::mem::discriminant(later) == std::mem::discriminant(value));
                if !overridden {
                    changed |= state.set(value, stamp);
                }
            }
            changed
        }
        MutationKind::RecordFollowUp { step, .. } => {
            if state.steps.iter().any(|r| r.value.id == step.id) {
                return false;
            }
            state.steps.push(Lww {
                stamp,
                value: step.clone(),
            });
            true
        }
        MutationKind::DeleteOpinion { .. } => unreachable!("handled above"),
        MutationKind::MarkAttendance { .. } => unreachable!("not about an opinion"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::citizen::Phone;
    use crate::ids::ClientId;
    use crate::sync::protocol::Seq;

    fn node(n: u8) -> ClientId {
        ClientId::new_v7(1_700_000_000_000, [n; 10])
    }

    fn id() -> OpinionId {
        OpinionId::new_v7(1_700_000_000_000, [7; 10])
    }

    fn stamp(wall_ms: u64, n: u8) -> Hlc {
        Hlc {
            wall_ms,
            counter: 0,
            node: node(n),
        }
    }

    fn opinion() -> Opinion {
        Opinion {
            id: id(),
            station_id: "st-1".into(),
            deputy_id: "dep-1".into(),
            category: "parking".into(),
            summary: "停车难".into(),
            details: String::new(),
            place: String::new(),
            citizen: Citizen::default(),
            on_site_reply: String::new(),
            outcome: Outcome::ToBeReferred,
            photos: vec![],
            created_at_ms: 1,
        }
    }

    fn m(wall_ms: u64, n: u8, kind: MutationKind) -> Mutation {
        Mutation::new(node(n), Seq(wall_ms), stamp(wall_ms, n), kind)
    }

    fn create(wall_ms: u64, n: u8) -> Mutation {
        m(
            wall_ms,
            n,
            MutationKind::CreateOpinion {
                opinion: Box::new(opinion()),
            },
        )
    }

    fn set(wall_ms: u64, n: u8, fields: Vec<OpinionFieldValue>) -> Mutation {
        m(
            wall_ms,
            n,
            MutationKind::SetOpinionFields { id: id(), fields },
        )
    }

    fn delete(wall_ms: u64, n: u8) -> Mutation {
        m(wall_ms, n, MutationKind::DeleteOpinion { id: id() })
    }

    fn replay(mutations: &[&Mutation]) -> OpinionReplica {
        let mut state = OpinionReplica::new(id());
        for m in mutations {
            state.apply(m);
        }
        state
    }

    #[test]
    fn edits_of_different_fields_on_two_tablets_both_survive() {
        let c = create(10, 1);
        let a = set(20, 1, vec![OpinionFieldValue::Summary("夜间停车难".into())]);
        let b = set(15, 2, vec![OpinionFieldValue::Place("幸福里".into())]);
        let one = replay(&[&c, &a, &b]);
        let two = replay(&[&b, &c, &a]);
        assert_eq!(one, two);
        let opinion = one.opinion().unwrap();
        assert_eq!(opinion.summary, "夜间停车难");
        assert_eq!(opinion.place, "幸福里");
        assert_eq!(
            opinion.category, "parking",
            "untouched fields keep the capture"
        );
    }

    #[test]
    fn the_later_stamp_wins_a_field_whatever_the_order() {
        let c = create(10, 1);
        let early = set(20, 1, vec![OpinionFieldValue::Summary("早".into())]);
        let late = set(20, 2, vec![OpinionFieldValue::Summary("晚".into())]);
        for order in [
            [&c, &early, &late],
            [&late, &early, &c],
            [&early, &c, &late],
        ] {
            assert_eq!(replay(&order).opinion().unwrap().summary, "晚");
        }
    }

    #[test]
    fn edits_arriving_before_the_creation_wait_for_it() {
        let c = create(10, 1);
        let edit = set(20, 2, vec![OpinionFieldValue::Details("补充".into())]);
        let mut state = replay(&[&edit]);
        assert_eq!(state.opinion(), None);
        assert!(!state.exists());
        assert!(state.apply(&c));
        assert_eq!(state.opinion().unwrap().details, "补充");
    }

    #[test]
    fn an_edit_older_than_the_creation_does_not_override_it() {
        // Only a misbehaving clock gets here, but the order must still be the same everywhere.
        let c = create(30, 1);
        let stale = set(20, 2, vec![OpinionFieldValue::Summary("旧".into())]);
        assert_eq!(replay(&[&stale, &c]).opinion().unwrap().summary, "停车难");
        assert_eq!(replay(&[&c, &stale]).opinion().unwrap().summary, "停车难");
    }

    #[test]
    fn applying_twice_changes_nothing() {
        let c = create(10, 1);
        let a = set(
            20,
            1,
            vec![
                OpinionFieldValue::Summary("一".into()),
                OpinionFieldValue::Summary("二".into()),
            ],
        );
        let d = delete(30, 2);
        let mut state = OpinionReplica::new(id());
        for mutation in [&c, &a, &d] {
            assert!(state.apply(mutation));
            let before = state.clone();
            assert!(!state.apply(mutation), "{:?}", mutation.kind.name());
            assert_eq!(state, before);
        }
        let state = replay(&[&c, &a]);
        assert_eq!(
            state.opinion().unwrap().summary,
            "二",
            "the last value listed wins"
        );
    }

    #[test]
    fn a_delete_wins_over_older_concurrent_and_later_edits() {
        let c = create(10, 1);
        let d = delete(20, 2);
        let later_edit = set(30, 3, vec![OpinionFieldValue::Summary("复活".into())]);
        let recreate = create(40, 3);
        for order in [
            [&c, &d, &later_edit, &recreate],
            [&later_edit, &recreate, &c, &d],
            [&d, &c, &recreate, &later_edit],
        ] {
            let state = replay(&order);
            assert_eq!(state.opinion(), None);
            assert_eq!(state.deleted(), Some(stamp(20, 2)));
            assert!(state.exists());
            assert_eq!(state, replay(&[&d]), "nothing but the tombstone is kept");
        }
    }

    #[test]
    fn a_tombstone_keeps_no_personal_data_and_the_latest_delete_stamp() {
        let c = create(10, 1);
        let with_phone = set(
            20,
            1,
            vec![OpinionFieldValue::Citizen(Citizen {
                phone: Phone::parse("13812341234"),
                ..Citizen::default()
            })],
        );
        let d1 = delete(30, 1);
        let d2 = delete(25, 2);
        let state = replay(&[&c, &with_phone, &d1, &d2]);
        let json = serde_json::to_string(&state).unwrap();
        assert!(!json.contains("13812341234"), "{json}");
        assert_eq!(state.deleted(), Some(stamp(30, 1)));
        assert_eq!(state, replay(&[&d2, &d1]));
        assert_eq!(state.last_stamp(), Some(stamp(30, 1)));
    }

    #[test]
    fn a_mutation_about_another_opinion_changes_nothing() {
        let mut state = OpinionReplica::new(OpinionId::new_v7(5, [1; 10]));
        let before = state.clone();
        assert!(!state.apply(&create(10, 1)));
        assert!(!state.apply(&delete(10, 1)));
        assert_eq!(state, before);
    }

    #[test]
    fn a_field_edit_with_the_creations_stamp_overrides_it() {
        let c = create(10, 1);
        let same = set(
            10,
            1,
            vec![OpinionFieldValue::Outcome(Outcome::AnsweredOnSpot)],
        );
        assert_eq!(
            replay(&[&same, &c]).opinion().unwrap().outcome,
            Outcome::AnsweredOnSpot
        );
        assert_eq!(replay(&[&c, &same]), replay(&[&same, &c]));
    }

    #[test]
    fn replica_state_round_trips_through_json_and_stays_compact() {
        let c = create(10, 1);
        let a = set(20, 2, vec![OpinionFieldValue::Place("幸福里".into())]);
        let state = replay(&[&c, &a]);
        let json = serde_json::to_string(&state).unwrap();
        assert!(json.contains(r#""place":{"stamp":"00000000000000000020-0000000000-"#));
        assert!(
            !json.contains("\"deleted\""),
            "absent registers are left out"
        );
        assert_eq!(
            serde_json::from_str::<OpinionReplica>(&json).unwrap(),
            state
        );
        assert_eq!(state.last_stamp(), Some(stamp(20, 2)));
        assert_eq!(OpinionReplica::new(id()).last_stamp(), None);
    }

    #[test]
    fn a_masked_replica_keeps_no_personal_data_in_the_creation_or_an_edit() {
        let citizen = Citizen {
            name: Some("王小明".into()),
            phone: Phone::parse("13812341234"),
            address: Some("幸福里 3 号楼".into()),
            ..Citizen::default()
        };
        let mut created = create(10, 1);
        created.kind = created.kind.with_citizen(citizen.clone());
        assert_eq!(created.kind.citizen(), Some(&citizen));
        let edit = set(
            20,
            2,
            vec![
                OpinionFieldValue::Summary("改过".into()),
                OpinionFieldValue::Citizen(citizen.clone()),
            ],
        );
        assert_eq!(edit.kind.citizen(), Some(&citizen));
        let mut replica = OpinionReplica::new(id());
        replica.apply(&created);
        replica.apply(&edit);
        let masked = replica.clone().with_citizen_masked();
        let text = serde_json::to_string(&masked).unwrap();
        for secret in ["小明", "13812341234", "幸福里"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let shown = masked.opinion().unwrap();
        assert_eq!(shown.citizen, citizen.masked());
        assert_eq!(shown.summary, "改过", "everything else as it was");
        assert_eq!(masked.clone().with_citizen_masked(), masked);
        // A mutation without a citizen carries none and is left as it is.
        let delete = MutationKind::DeleteOpinion { id: id() };
        assert_eq!(delete.citizen(), None);
        assert_eq!(delete.clone().with_citizen(citizen), delete);
    }
}
