from .attribution import RecommendationClick
from .emails import AbandonedEmail, EmailOptOut, EmailStatus
from .identity import AnonymousIdentity, CartState, ErasedIdentity
from .interactions import Interaction, InteractionKind
from .offers import SegmentOffer
from .profiles import CustomerProfile, ItemChannel, ItemProfile
from .recommendations import (
    ListEntry,
    ListKey,
    ListKind,
    ModelRun,
    ModelRunStatus,
    RecommendationList,
    SubjectType,
)
from .segments import Segment, SegmentKind, SegmentMembership, SegmentSize
from .session import ItemNeighbours

__all__ = [
    "AbandonedEmail",
    "AnonymousIdentity",
    "CartState",
    "CustomerProfile",
    "EmailOptOut",
    "EmailStatus",
    "ErasedIdentity",
    "Interaction",
    "InteractionKind",
    "ItemChannel",
    "ItemNeighbours",
    "ItemProfile",
    "ListEntry",
    "ListKey",
    "ListKind",
    "ModelRun",
    "ModelRunStatus",
    "RecommendationClick",
    "RecommendationList",
    "Segment",
    "SegmentKind",
    "SegmentMembership",
    "SegmentOffer",
    "SegmentSize",
    "SubjectType",
]
