"""SQLAlchemy 2.0 typed models, one module per aggregate.

Importing this package registers every table on ``db.metadata`` (Alembic relies on it).
"""
from trainer.models.audit import AuditEvent
from trainer.models.content import (
    Case, ContentRelease, Course, FrameworkEntry, Item, Module, ModuleStep, Point, Question, QuestionPoint,
    QuestionVersion, Stage,
)
from trainer.models.progress import Answer, Attempt, Certificate, MasteryDirty, MasteryMember, MasteryMonth, MasteryOrg, MasterySpan, Opinion, PointMastery
from trainer.models.org import Organization, OrgKind, Programme
from trainer.models.review import ReviewCount, ReviewDirty, ReviewPerson, ReviewState
from trainer.models.roster import RosterImport, RosterJob
from trainer.models.security import LoginThrottle, UserSession
from trainer.models.user import Role, User, UserRole
from trainer.models.workshop import (
    LiveSession, Workshop, WorkshopFacilitator, WorkshopModule, WorkshopParticipant,
)

__all__ = [
    "Answer", "Attempt", "Certificate", "Opinion", "PointMastery", "MasteryDirty", "MasteryMonth", "MasteryOrg", "MasteryMember", "MasterySpan", "AuditEvent", "Case", "ContentRelease", "Course", "FrameworkEntry", "Item", "Module", "ModuleStep", "Point",
    "Question", "QuestionPoint", "RosterImport", "RosterJob", "QuestionVersion", "Stage", "Organization", "OrgKind", "Programme", "Role", "User", "UserRole",
    "LiveSession", "LoginThrottle", "UserSession", "Workshop", "WorkshopFacilitator", "WorkshopModule", "WorkshopParticipant"]
__all__ += ["RosterJob", "ReviewCount", "ReviewDirty", "ReviewPerson", "ReviewState"]
