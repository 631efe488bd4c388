"""Administrators: organizations, accounts and the audit log (the roster import: admin/roster_routes.py)."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from wtforms import SelectChoice

from trainer import policies
from trainer.admin.forms import (
    ActiveForm, OfficeForm, OrgImportForm, PasswordResetForm, ProgrammeForm, RolesForm, UserCreateForm,
)
from trainer.extensions import db
from trainer.navigation import leaves_a_trace
from trainer.models import Case, Organization, OrgKind, Point, Programme, Role, User
from trainer.services import accounts, audit, fields, opinions, orgs
from trainer.services.csvio import CsvDecodeError, decode_excel_csv, write_csv
from trainer.dates import DAY_RANGE_TEXT, JST, day_in_range, jst

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _guard() -> None:
    policies.require_role(Role.ADMIN)


@bp.get("/")
def home():
    count = lambda model, *where: db.session.scalar(select(func.count()).select_from(model).where(*where))
    stats = {
        "users": count(User), "active": count(User, User.active.is_(True)),
        "municipalities": count(Organization, Organization.kind == OrgKind.MUNICIPALITY),
        "offices": count(Organization, Organization.kind == OrgKind.OFFICE),
    }
    return render_template("admin/home.html", stats=stats)


# --- organizations -------------------------------------------------------------------------

@bp.get("/orgs")
def orgs_index():
    items = orgs.jurisdictions()
    return render_template("admin/orgs.html", jurisdictions=items, form=OrgImportForm())


@bp.post("/orgs/import")
def orgs_import():
    form = OrgImportForm()
    if not form.validate_on_submit():
        flash("CSVファイルを選んでください。", "error")
        return redirect(url_for("admin.orgs_index"))
    try:
        text = decode_excel_csv(form.file.data.read())
    except CsvDecodeError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.orgs_index"))
    rows, errors = orgs.parse_municipalities(text)
    if errors:
        return render_template("admin/orgs.html", jurisdictions=orgs.jurisdictions(), form=form, errors=errors), 422
    report = orgs.import_municipalities(rows)
    audit.record("org.import", actor=current_user, detail={"created": report.created, "updated": report.updated})
    db.session.commit()
    flash(f"市区町村を取り込みました（新規 {report.created}件、更新 {report.updated}件、変更なし {report.unchanged}件）。", "success")
    return redirect(url_for("admin.orgs_index"))


@bp.get("/orgs/<int:org_id>")
def org_detail(org_id: int):
    org = db.get_or_404(Organization, org_id)
    kids = orgs.children(org)
    counts = orgs.user_counts([org.id] + [k.id for k in kids])
    programme = ProgrammeForm(programme=org.programme) if org.kind in (OrgKind.MUNICIPALITY, OrgKind.DESIGNATED_CITY) else None
    office = OfficeForm() if org.kind != OrgKind.OFFICE else None
    users = accounts.search_users(organization_id=org.id)
    return render_template("admin/org.html", org=org, children=kids, counts=counts, programme_form=programme,
                           office_form=office, users=users)


@bp.post("/orgs/<int:org_id>/programme")
def org_programme(org_id: int):
    org = db.get_or_404(Organization, org_id)
    form = ProgrammeForm()
    if form.validate_on_submit() and org.kind in (OrgKind.MUNICIPALITY, OrgKind.DESIGNATED_CITY):
        orgs.set_programme(org, Programme(form.programme.data))
        audit.record("org.update", actor=current_user, subject=org.name, detail={"programme": form.programme.data})
        db.session.commit()
        flash("実施事業を保存しました。", "success")
    return redirect(url_for("admin.org_detail", org_id=org.id))


@bp.post("/orgs/<int:org_id>/offices")
def org_office(org_id: int):
    org = db.get_or_404(Organization, org_id)
    form = OfficeForm()
    if org.kind == OrgKind.OFFICE:
        abort(400)
    if form.validate_on_submit():
        office = orgs.create_office(org, form.name.data, form.office_type.data)
        audit.record("org.create", actor=current_user, subject=office.full_name)
        db.session.commit()
        flash(f"「{office.name}」を追加しました。", "success")
    else:
        flash("；".join(e for errs in form.errors.values() for e in errs), "error")
    return redirect(url_for("admin.org_detail", org_id=org.id))


# --- users ---------------------------------------------------------------------------------

def _scope_choices() -> list[SelectChoice]:
    return [SelectChoice("", "（指定しない）")] + [
        SelectChoice(str(o.id), f"{o.name}（{o.kind_label}）") for o in orgs.jurisdictions()]


def _apply_roles(user: User, form: RolesForm) -> None:
    scope = db.session.get(Organization, int(form.scope.data)) if form.scope.data else None
    accounts.set_roles(user, [Role(r) for r in form.roles.data], reviewer_scope=scope, actor=current_user)


@bp.get("/users")
def users():
    query = request.args.get("q", "")[:64]
    return render_template("admin/users.html", users=accounts.search_users(query), q=query)


@bp.route("/orgs/<int:org_id>/users/new", methods=["GET", "POST"])
def user_new(org_id: int):
    org = db.get_or_404(Organization, org_id)
    form = UserCreateForm(roles=[str(Role.TRAINEE)])
    form.scope.choices = _scope_choices()
    if form.validate_on_submit():
        scope = db.session.get(Organization, int(form.scope.data)) if form.scope.data else None
        try:
            user = accounts.create_user(
                login_id=form.login_id.data, display_name=form.display_name.data, furigana=form.furigana.data,
                email=form.email.data, organization=org, password=form.password.data,
                roles=[Role(r) for r in form.roles.data], reviewer_scope=scope, actor=current_user,
                must_change_password=True,
            )
        except accounts.AccountError as exc:
            db.session.rollback()
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"利用者「{user.display_name}」（{user.login_id}）を作成しました。", "success")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return render_template("admin/user_new.html", form=form, org=org)


@bp.get("/users/<int:user_id>")
def user_detail(user_id: int):
    user = db.get_or_404(User, user_id)
    roles = RolesForm(roles=sorted(user.role_names()), scope=str(user.reviewer_scope_id() or ""))
    roles.scope.choices = _scope_choices()
    return render_template("admin/user.html", user=user, roles_form=roles, reset_form=PasswordResetForm(),
                           active_form=ActiveForm())


@bp.post("/users/<int:user_id>/roles")
def user_roles(user_id: int):
    user = db.get_or_404(User, user_id)
    form = RolesForm()
    form.scope.choices = _scope_choices()
    if form.validate_on_submit():
        try:
            _apply_roles(user, form)
        except accounts.AccountError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash("役割を保存しました。", "success")
    else:
        flash("；".join(e for errs in form.errors.values() for e in errs), "error")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/password")
def user_password(user_id: int):
    user = db.get_or_404(User, user_id)
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(user, form.password.data, actor=current_user)
        except accounts.AccountError as exc:
            db.session.rollback()
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash("パスワードを再設定しました。次回ログイン時に本人が変更します。", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/active")
def user_active(user_id: int):
    user = db.get_or_404(User, user_id)
    if ActiveForm().validate_on_submit():
        try:
            accounts.set_active(user, not user.active, actor=current_user)
        except accounts.AccountError as exc:
            flash(str(exc), "error")
        else:
            db.session.commit()
            flash("利用を再開しました。" if user.active else "利用を停止しました。", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/confirm")
def user_confirm(user_id: int):
    """Confirm a walk-in account: from now on reviewers count and see it."""
    user = db.get_or_404(User, user_id)
    if ActiveForm().validate_on_submit() and accounts.confirm_registration(user, actor=current_user):
        db.session.commit()
        flash("当日登録を確認しました。", "success")
    return redirect(url_for("admin.user_detail", user_id=user.id))


# --- audit log -----------------------------------------------------------------------------

def _parse_day(value: str | None, label: str, errors: list[str]):
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=JST)
    except ValueError:
        errors.append(f"{label}は 2025-04-01 のように、年-月-日で入力してください。")
        return None
    if not day_in_range(day.date()):
        errors.append(f"{label}は{DAY_RANGE_TEXT}の日付で入力してください。")
        return None
    return day


@bp.get("/audit")
def audit_log():
    args, errors = request.args, []
    since, until = _parse_day(args.get("since"), "開始日", errors), _parse_day(args.get("until"), "終了日", errors)
    events = audit.search(
        action=args.get("action") or None, actor=args.get("actor") or None, subject=args.get("subject") or None,
        since=since, until=until + timedelta(days=1) if until else None,
    )
    return render_template("admin/audit.html", events=events, labels=audit.ACTION_LABELS, args=args, errors=errors,
                           describe=audit.describe), \
        (400 if errors else 200)


# --- opinions on the handbook --------------------------------------------------------------

OPINIONS_PER_PAGE = 50


@bp.get("/opinions")
def opinions_list():
    case_id, point_id = request.args.get("case") or None, request.args.get("point") or None
    total = opinions.count(case_id=case_id, point_id=point_id)
    pages = max(1, -(-total // OPINIONS_PER_PAGE))
    page = min(max(1, request.args.get("page", 1, type=fields.int_arg)), pages)
    rows = opinions.listing(case_id=case_id, point_id=point_id, limit=OPINIONS_PER_PAGE,
                            offset=(page - 1) * OPINIONS_PER_PAGE)
    return render_template(
        "admin/opinions.html", rows=rows, case_id=case_id, point_id=point_id, page=page, pages=pages, total=total,
        per_page=OPINIONS_PER_PAGE,
        cases=db.session.scalars(select(Case).order_by(Case.id)).all(),
        points=db.session.scalars(select(Point).order_by(Point.sort)).all())


@bp.get("/opinions.csv")
@leaves_a_trace
def opinions_csv():
    audit.record("opinions.export", actor=current_user, ip=request.remote_addr)
    db.session.commit()
    body = "".join(write_csv(opinions.csv_rows(jst)))
    return Response(body.encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=opinions.csv"})
