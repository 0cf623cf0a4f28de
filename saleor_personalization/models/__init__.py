from .attribution import RecommendationClick
from .identity import AnonymousIdentity, CartState, ErasedIdentity
from .interactions import Interaction, InteractionKind
from .offers import SegmentOffer
from .profiles import CustomerProfile, ItemChannel, ItemProfile
from .recommendations import ListKind, ModelRun, ModelRunStatus, RecommendationList
from .segments import Segment, SegmentKind, SegmentMembership, SegmentSize

__all__ = [
    "AnonymousIdentity",
    "CartState",
    "CustomerProfile",
    "ErasedIdentity",
    "Interaction",
    "InteractionKind",
    "ItemChannel",
    "ItemProfile",
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
]
