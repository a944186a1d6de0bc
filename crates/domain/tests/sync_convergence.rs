//! Convergence of the merge, tested the way Automerge fuzzes its sync: several tablets make
//! random creations, edits and deletes on a few shared opinions, with clocks that jump back and
//! forth; several replicas then receive every mutation in their own random order, with random
//! repeats. Every replica must end in the same state, that state must be what the rules say
//! (checked against a plain re-statement of them), and re-applying any mutation at any point
//! must change nothing.

use liaison_domain::sync::{
    Clock, Hlc, Mutation, MutationKind, OpinionFieldValue, OpinionReplica, Seq,
};
use liaison_domain::{Citizen, ClientId, Opinion, OpinionId, Outcome, RedirectChannel};
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::BTreeMap;

const CLIENTS: usize = 3;
const OPINIONS: usize = 3;
const REPLICAS: usize = 4;

#[derive(Clone, Debug)]
enum Op {
    Create(u8),
    Set(Vec<(u8, u8)>),
    Delete,
}

#[derive(Clone, Debug)]
struct Step {
    client: usize,
    opinion: usize,
    op: Op,
    /// How far the tablet's wall clock moved since its last step; negative is a clock going back.
    clock_delta_ms: i64,
}

fn step() -> impl Strategy<Value = Step> {
    let op = prop_oneof![
        2 => (0u8..3).prop_map(Op::Create),
        5 => prop::collection::vec((0u8..7, 0u8..3), 1..4).prop_map(Op::Set),
        1 => Just(Op::Delete),
    ];
    (0..CLIENTS, 0..OPINIONS, op, -30i64..60).prop_map(|(client, opinion, op, clock_delta_ms)| {
        Step {
            client,
            opinion,
            op,
            clock_delta_ms,
        }
    })
}

fn client(i: usize) -> ClientId {
    ClientId::new_v7(1_700_000_000_000, [i as u8 + 1; 10])
}

fn opinion_id(i: usize) -> OpinionId {
    OpinionId::new_v7(1_700_000_000_000, [i as u8 + 100; 10])
}

fn field_value(field: u8, v: u8) -> OpinionFieldValue {
    let text = |prefix: &str| format!("{prefix}{v}");
    match field {
        0 => OpinionFieldValue::Category(["parking", "other", "roads_lighting"][v as usize].into()),
        1 => OpinionFieldValue::Summary(text("summary ")),
        2 => OpinionFieldValue::Details(text("details ")),
        3 => OpinionFieldValue::Place(text("place ")),
        4 => OpinionFieldValue::OnSiteReply(text("reply ")),
        5 => OpinionFieldValue::Outcome(
            [
                Outcome::AnsweredOnSpot,
                Outcome::ToBeReferred,
                Outcome::NotAccepted {
                    channel: RedirectChannel::Petition,
                },
            ][v as usize],
        ),
        _ => OpinionFieldValue::Citizen(Citizen {
            anonymous: v == 0,
            name: (v > 0).then(|| text("name ")),
            ..Citizen::default()
        }),
    }
}

fn opinion(id: OpinionId, v: u8) -> Opinion {
    Opinion {
        id,
        station_id: "st-1".into(),
        deputy_id: format!("dep-{v}").as_str().into(),
        category: "other".into(),
        summary: format!("captured {v}"),
        details: String::new(),
        place: String::new(),
        citizen: Citizen::default(),
        on_site_reply: String::new(),
        outcome: Outcome::HandledByDeputy,
        photos: vec![],
        created_at_ms: u64::from(v),
    }
}

/// Turns the steps into the mutations the tablets would have recorded: each with its own clock
/// and dense seqs.
fn record(steps: &[Step]) -> Vec<Mutation> {
    let mut clocks: Vec<Clock> = (0..CLIENTS).map(|c| Clock::new(client(c))).collect();
    let mut now: Vec<u64> = (0..CLIENTS).map(|c| 1_000 + 7 * c as u64).collect();
    let mut seqs = [0u64; CLIENTS];
    steps
        .iter()
        .map(|s| {
            now[s.client] = now[s.client].saturating_add_signed(s.clock_delta_ms);
            seqs[s.client] += 1;
            let hlc = clocks[s.client].tick(now[s.client]);
            let id = opinion_id(s.opinion);
            let kind = match &s.op {
                Op::Create(v) => MutationKind::CreateOpinion {
                    opinion: Box::new(opinion(id, *v)),
                },
                Op::Set(fields) => MutationKind::SetOpinionFields {
                    id,
                    fields: fields.iter().map(|&(f, v)| field_value(f, v)).collect(),
                },
                Op::Delete => MutationKind::DeleteOpinion { id },
            };
            Mutation::new(client(s.client), Seq(seqs[s.client]), hlc, kind)
        })
        .collect()
}

type Replica = BTreeMap<OpinionId, OpinionReplica>;

fn apply(replica: &mut Replica, m: &Mutation) -> bool {
    let id = m.kind.opinion_id().expect("opinion mutations only");
    replica
        .entry(id)
        .or_insert_with(|| OpinionReplica::new(id))
        .apply(m)
}

/// The rules restated without registers: hidden once any delete exists, shown once a creation
/// exists; each field is the value of the latest-stamped write (the creation's copy included),
/// and a field listed twice in one edit takes the later value.
fn expected(mutations: &[Mutation], id: OpinionId) -> Option<Opinion> {
    let about: Vec<&Mutation> = mutations
        .iter()
        .filter(|m| m.kind.opinion_id() == Some(id))
        .collect();
    if about
        .iter()
        .any(|m| matches!(m.kind, MutationKind::DeleteOpinion { .. }))
    {
        return None;
    }
    let (created_at, created) = about
        .iter()
        .filter_map(|m| match &m.kind {
            MutationKind::CreateOpinion { opinion } => Some((m.hlc, opinion)),
            _ => None,
        })
        .max_by_key(|(stamp, _)| *stamp)?;
    let mut result: Opinion = (**created).clone();
    let mut writes: Vec<(Hlc, &OpinionFieldValue)> = about
        .iter()
        .flat_map(|m| match &m.kind {
            MutationKind::SetOpinionFields { fields, .. } => {
                fields.iter().map(|f| (m.hlc, f)).collect()
            }
            _ => vec![],
        })
        .filter(|(stamp, _)| *stamp >= created_at)
        .collect();
    // Stable sort: within one mutation the listed order stays, so the later value lands last.
    writes.sort_by_key(|(stamp, _)| *stamp);
    for (_, value) in writes {
        match value.clone() {
            OpinionFieldValue::Category(v) => result.category = v,
            OpinionFieldValue::Summary(v) => result.summary = v,
            OpinionFieldValue::Details(v) => result.details = v,
            OpinionFieldValue::Place(v) => result.place = v,
            OpinionFieldValue::OnSiteReply(v) => result.on_site_reply = v,
            OpinionFieldValue::Outcome(v) => result.outcome = v,
            OpinionFieldValue::Citizen(v) => result.citizen = v,
        }
    }
    Some(result)
}

/// One replica's delivery: every mutation once, some again, in an order set by random keys.
fn delivery(n: usize, keys: &[u32], repeats: &[Index]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).chain(repeats.iter().map(|r| r.index(n))).collect();
    let mut keyed: Vec<(u32, usize, usize)> = order
        .drain(..)
        .enumerate()
        .map(|(pos, i)| (keys[pos % keys.len()], pos, i))
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, _, i)| i).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn replicas_converge_whatever_the_order_and_repeats(
        steps in prop::collection::vec(step(), 1..40),
        deliveries in prop::collection::vec(
            (prop::collection::vec(any::<u32>(), 64), prop::collection::vec(any::<Index>(), 0..10)),
            REPLICAS,
        ),
    ) {
        let mutations = record(&steps);

        let mut in_order = Replica::new();
        for m in &mutations {
            apply(&mut in_order, m);
        }

        for (r, (keys, repeats)) in deliveries.iter().enumerate() {
            let mut replica = Replica::new();
            for i in delivery(mutations.len(), keys, repeats) {
                let m = &mutations[i];
                apply(&mut replica, m);
                if r == 0 {
                    let before = replica.clone();
                    prop_assert!(!apply(&mut replica, m), "re-applying reported a change");
                    prop_assert_eq!(&replica, &before);
                }
            }
            prop_assert_eq!(&replica, &in_order, "replica {} diverged", r);
        }

        for o in 0..OPINIONS {
            let id = opinion_id(o);
            let shown = in_order.get(&id).and_then(OpinionReplica::opinion);
            prop_assert_eq!(shown, expected(&mutations, id), "opinion {}", o);
        }
    }
}
